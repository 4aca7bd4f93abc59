// A Session runs requests on a graph. A request (fetches, target nodes, fed placeholders) is
// compiled once into a Plan: pruned to the nodes it needs, ordered, with buffers allocated per
// feed-shape signature; plans are cached, so a training step does no graph work and no
// per-node allocation after its first run. Variables live in the session across runs, keyed by
// their full node name (their stable identity), so a session can move onto a rebuilt,
// optimized or reloaded copy of its graph (Session::rebind) and keep its values.
//
// The read/write ordering rule: in one plan, every read of a variable (any use of the
// variable's output, or of an output aliasing it such as an assign's, except input 0 of the
// writing op itself) and every write of it (assign, assign_add, assign_sub), and any two writes
// of it, must be ordered by a path of data edges and control dependencies. compile() refuses
// an unordered pair with a RunError naming the variable and both nodes; creation order alone
// never orders anything. The schedule (node ids ascending) then follows that order, so a read
// sees exactly the writes ordered before it. Fetching a variable, or an output aliasing it,
// gives its value at the end of the run (it is not a read).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "flag.hpp"
#include "graph.hpp"
#include "passes.hpp"
#include "plan_graph.hpp"
#include "tensor.hpp"

namespace dagrad {

class Session;

namespace detail {
// A variable's value in one session, and whether an initializer or assign has set it.
struct VariableState {
  Tensor value;
  bool initialized = false;
  // Bumped by every write (set_variable_value, and each run of a plan that writes it): plans
  // reuse values computed from the variable while it holds the version they saw (Plan::run).
  std::uint64_t version = 0;
};
}  // namespace detail

// A value for a placeholder.
struct Feed {
  Output placeholder;
  Tensor value;
};

class Plan {
 public:
  // Runs the plan. `feeds` are in the order of feed_placeholders() given at compile time.
  // Returns clones of the fetched values (targets are only run). A fetched variable, or an
  // assign that aliases one, shows the variable's value at the end of the run.
  std::vector<Tensor> run(std::span<const Tensor> feeds);
  // The plan's own graph, after the passes: what runs (node ids below are its ids).
  const PlanGraph& plan_graph() const { return *plan_graph_; }
  const std::vector<int>& schedule() const { return schedule_; }  // plan_graph() ids in run order
  // What each graph pass did while compiling this plan, in pipeline order.
  const std::vector<PassReport>& pass_reports() const { return reports_; }
  const std::vector<Output>& feed_placeholders() const { return feeds_; }
  // How many times shapes were inferred and buffers allocated: once per feed-shape signature
  // while at most kMaxBindings signatures alternate (a training batch and a smaller last one).
  int allocations() const { return allocations_; }
  static constexpr std::size_t kMaxBindings = 4;
  // Bytes of the distinct buffers the active feed-shape binding allocated (its feeds and step
  // outputs, each shared buffer once; not variables or constants), 0 before the first run.
  // With buffer reuse (the default, Session::set_buffer_reuse) a step output takes the buffer of
  // a value no later step reads (the smallest free one that is large enough; fused_elementwise
  // may write over a full-shape input it is the last reader of), and reshape, expand_dims,
  // identity, stop_gradient and a sum_to that sums nothing are views of their input (their kernel
  // is skipped) unless that input is a variable, a constant or a value written in place.
  // Fetched values keep their own buffers. The buffers form a pool per binding, not one arena.
  std::size_t bound_bytes() const { return bound_bytes_; }
  // How many steps the active binding skips because their output is a view of their input.
  int view_steps() const;
  // Steps hoisted out of the run: their nodes are invariant (PlanGraph::invariant_nodes: computed
  // from constants and variables the plan never writes, such as a kernel with a Normalization
  // folded in), so their outputs are computed by the first run and reused by later ones until a
  // variable they read is written (by any plan, set_variable_value, a checkpoint or model load:
  // each write bumps the variable's version). Their buffers are the plan's own, kept across runs
  // and feed shapes, outside bound_bytes().
  int hoisted_steps() const;
  // How many times the hoisted steps have been computed (at most once per run).
  int hoisted_computations() const { return hoisted_computations_; }
  // Whether this plan guards its steps (Session::set_check_numerics, as when it was compiled).
  bool check_numerics() const { return check_numerics_; }

 private:
  friend class Session;
  struct Step {
    const Node* node;
    KernelFn kernel;
    std::uint32_t first_input;  // into input_slots_
    std::uint32_t num_inputs;
    std::uint32_t first_output;  // into output_slots_
    std::uint32_t num_outputs;
    std::mt19937_64* rng;
    // What buffer reuse may do with the step's output 0: a view of input 0 when the op is a copy
    // (always, or only when the shapes match), or an in-place write over an input.
    enum class Memory : std::uint8_t { Fresh, View, ViewIfSameShape, InPlace } memory;
  };
  // The buffers of one feed-shape signature. While a binding is active its tensors live in
  // slots_; otherwise in `tensors` (swapped, so switching allocates nothing).
  struct Binding {
    std::vector<Shape> feed_shapes;
    std::vector<Tensor> tensors;  // one per bound slot
    std::vector<char> skip;       // per step: output 0 is a view, the kernel is not run
    std::vector<std::unique_ptr<PreparedKernel>> prepared;  // per step: its op's prepare step's
    std::size_t bytes = 0;                                  // bound_bytes()
    std::uint64_t last_use = 0;
  };
  Plan() = default;
  void check_feeds(std::span<const Tensor> feeds) const;
  void activate(std::span<const Tensor> feeds);
  void swap_binding(Binding& binding);
  void bind_shapes(std::span<const Tensor> feeds);
  KernelContext step_context(std::size_t k);  // step k's node, input and output slots
  void run_step(std::size_t k);
  // Runs the hoisted steps (those computed once per version of the variables they read).
  void run_hoisted();
  // The other steps of run() with the numerics guard: each step's float outputs (and the
  // variables it writes) are scanned after it runs; on NaN or Inf, or any failure, every variable
  // written so far gets back its value from before the run and NumericsError (or the failure)
  // propagates.
  void run_checked();
  void check_step(std::size_t k) const;
  static Step::Memory memory_of(const Node& n);
  std::size_t slot_index(const Tensor* slot) const {
    return static_cast<std::size_t>(slot - slots_.data());
  }

  Session* session_ = nullptr;
  const Graph* graph_ = nullptr;
  std::unique_ptr<PlanGraph> plan_graph_;
  std::vector<PassReport> reports_;
  std::vector<int> schedule_;
  std::vector<Output> feeds_;
  std::vector<Step> steps_;
  std::vector<Tensor> slots_;                    // current value of every node output in the plan
  std::vector<const Tensor*> input_slots_;       // per step, pointers into slots_
  std::vector<Tensor*> output_slots_;            // per step, pointers into slots_
  std::vector<std::pair<int, int>> feed_slots_;  // (feed index, slot)
  std::vector<int> bound_slots_;                 // feed and step-output slots: what a binding owns
  std::vector<int> variables_read_;              // (source ids) must be initialized before running
  std::vector<detail::VariableState*> read_states_;         // their states, same order
  std::vector<detail::VariableState*> written_states_;  // variables this plan writes
  std::vector<char> hoisted_;                          // per step: invariant (hoisted_steps())
  std::vector<char> slot_hoisted_;                     // per slot: a hoisted step's output
  // Variables the hoisted steps read, with the version their values were computed from.
  std::vector<std::pair<detail::VariableState*, std::uint64_t>> hoisted_reads_;
  bool hoisted_valid_ = false;
  int hoisted_computations_ = 0;
  std::vector<int> variables_initialized_;                  // assigned (initialized) by this plan
  std::vector<detail::VariableState*> initialized_states_;  // their states, same order
  std::vector<int> fetch_slots_;
  bool reuse_buffers_ = true;
  bool allow_views_ = true;
  std::vector<int> slot_last_use_;  // per slot: the last step reading it (kForever: fetched)
  std::vector<char> slot_written_;  // per slot: a fused step stores into it in place
  std::vector<char> skip_;          // the active binding's Binding::skip
  std::vector<std::unique_ptr<PreparedKernel>> prepared_;  // the active binding's, or empty
  std::size_t bound_bytes_ = 0;
  std::vector<Binding> bindings_;
  int active_ = -1;  // index into bindings_ of the binding in slots_
  std::uint64_t runs_ = 0;
  int allocations_ = 0;
  // The numerics guard: each write a step makes of a variable (steps ascending), with the
  // variable's value from just before that step, so a failed run can be undone write by write.
  struct SavedWrite {
    std::uint32_t step;
    std::uint32_t input;  // the step's input that is written
    Tensor before;
  };
  bool check_numerics_ = false;
  std::vector<SavedWrite> saved_writes_;
};

class Session {
 public:
  explicit Session(Graph& graph);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  Graph& graph() const { return *graph_; }

  // Compiles (or finds in the cache) the plan for fetching `fetches` and running `targets`
  // with `feed_placeholders` fed. Throws RunError when a needed placeholder is not fed or when
  // a read and a write (or two writes) of a variable are not ordered (the rule above).
  Plan& compile(const std::vector<Output>& fetches, const std::vector<Operation>& targets = {},
                const std::vector<Output>& feed_placeholders = {});
  // Compiles or reuses a plan and runs it.
  std::vector<Tensor> run(const std::vector<Output>& fetches, const std::vector<Feed>& feeds = {},
                          const std::vector<Operation>& targets = {});
  Tensor run(Output fetch, const std::vector<Feed>& feeds = {});
  void run_targets(const std::vector<Operation>& targets, const std::vector<Feed>& feeds = {});

  // Runs every variable's initializer, one at a time in creation order (so an initializer may
  // read a variable created before it), with plans that are not cached.
  void initialize_variables();
  // The same for the variables not yet initialized (by an initializer, assign, restore or
  // set_variable_value); the others keep their values.
  void initialize_uninitialized_variables();
  bool is_initialized(Output variable) const;
  // The variable's current value (a clone) / overwrite it (same dtype and shape). Throws
  // RunError unless `variable` is a variable of this session's graph (and, for reading, set).
  Tensor variable_value(Output variable) const;
  void set_variable_value(Output variable, const Tensor& value);
  int num_cached_plans() const { return static_cast<int>(plans_.size()); }

  // How plans are compiled: the graph passes of default_pipeline() run on every plan's copy of
  // the request unless switched off here. Changing the options drops the cached plans (and
  // Plan references). Throws GraphError, changing nothing, for a pass name that is unknown.
  void set_optimizer_options(OptimizerOptions options);
  const OptimizerOptions& optimizer_options() const { return options_; }
  // Whether plans reuse buffers and make copies views (Plan::bound_bytes); on by default. Off,
  // every step output gets a buffer of its own, as a reference for tests. Changing it drops the
  // cached plans (and Plan references).
  void set_buffer_reuse(Flag on);
  bool buffer_reuse() const { return buffer_reuse_; }
  // The numerics guard, off by default (and then free: one test per run). On, every step of a
  // plan, forward, backward and optimizer updates, is checked after its kernel runs: the first
  // step whose float output (or a variable it writes) holds NaN or Inf stops the run with a
  // NumericsError naming the node, its op and creation site and each input's dtype, shape, min,
  // max and count of non-finite values; every variable the run wrote is given back its value
  // from before the run (as is the case for any other failure while checking). Plans compiled
  // with it skip elementwise fusion (and gemm_epilogue), so the node named is one of the user's
  // graph or one a pass made in place of a few (softmax_cross_entropy), with the site of the
  // node it replaced; buffers are not written in place. Changing it drops the cached plans.
  void set_check_numerics(Flag on);
  bool check_numerics() const { return check_numerics_; }

  // The generator state of every random node that has drawn (or been compiled into a plan), by
  // node name, as text (std::mt19937_64's stream form): saved with a model, it lets training
  // resume with the same dropout masks as an uninterrupted run.
  std::map<std::string, std::string> random_states() const;
  // Sets the generators of the named nodes; the others keep theirs. Throws RunError naming the
  // node when a name is not a random node of this graph or its state does not parse (and then
  // changes nothing).
  void set_random_states(const std::map<std::string, std::string>& states);
  // Makes the random nodes' streams depend also on `offset` (0, the default, changes nothing):
  // the ranks of a data-parallel job use their rank, so that their dropout masks differ. A
  // generator that exists already (restored by set_random_states) is reseeded from its state
  // and the offset, in place, so a resumed rank draws again a stream of its own.
  void set_stream_offset(std::uint64_t offset);

  // Moves the session onto `other` (e.g. a reloaded or transformed copy of its graph): cached
  // plans (and Plan references) and random streams are dropped; variable values are kept by name. A
  // variable of `other` whose name the session knows with another dtype or shape is a RunError
  // naming it (and nothing changes). Values of variables `other` lacks are kept, unused, so
  // rebinding back to a graph that has them finds them again; checkpoints hold only the
  // current graph's.
  void rebind(Graph& other);

 private:
  friend class Plan;
  using VariableState = detail::VariableState;
  VariableState& variable_state(int node);
  const VariableState* find_state(Output variable, const char* what) const;
  std::mt19937_64& rng_for(int node);
  void check_request(const std::vector<Output>& fetches, const std::vector<Operation>& targets,
                     const std::vector<Output>& feed_placeholders) const;
  std::unique_ptr<Plan> build_plan(const std::vector<Output>& fetches,
                                   const std::vector<Operation>& targets,
                                   const std::vector<Output>& feed_placeholders, bool optimize);
  void run_initializers(bool only_uninitialized);

  Graph* graph_;
  std::map<std::string, std::unique_ptr<VariableState>, std::less<>> variables_;  // by node name
  std::map<int, std::unique_ptr<std::mt19937_64>> rngs_;
  std::map<std::vector<std::int64_t>, std::unique_ptr<Plan>> plans_;
  OptimizerOptions options_;
  bool buffer_reuse_ = true;
  bool check_numerics_ = false;
  std::uint64_t stream_offset_ = 0;
  // graph_->variables()[0, initialized_prefix_) were all initialized when last looked at, as of
  // the graph's rollback count prefix_rollbacks_ (a rollback may reuse their indices): building
  // layer after layer then initializes each new variable without visiting every earlier one.
  std::size_t initialized_prefix_ = 0;
  std::uint64_t prefix_rollbacks_ = 0;
};

}  // namespace dagrad
