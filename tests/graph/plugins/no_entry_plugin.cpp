// A shared library that is not a dagrad plugin: it lacks dagrad_register_plugin.
extern "C" __attribute__((visibility("default"))) int not_a_dagrad_entry_point() {
  return 1;
}
