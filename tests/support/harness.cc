#include "tests/support/harness.h"
