// backend-im: the control client. Everything but the catch-all lives in commands.cc.
#include <cstdio>
#include <exception>

#include "ctl/commands.h"

int main(int argc, char** argv) {
  try {
    return bim::ctl::RunCtl(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "backend-im: internal error: %s\n", e.what());
    return 70;
  }
}
