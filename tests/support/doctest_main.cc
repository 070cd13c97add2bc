#define DOCTEST_CONFIG_IMPLEMENT
#include "tests/support/doctest_main.h"

int main(int argc, char** argv) { return bim::test::RunDoctest(argc, argv); }
