#include <iostream>
int main() { std::cout << "dagrad\n"; }
