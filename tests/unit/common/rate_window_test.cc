// RateWindow: the limit holds within a window, a new window starts afresh, and time that runs
// backwards (it cannot, on a steady clock, but a caller may pass anything) never locks it.
#include "common/rate_window.h"

#include <doctest/doctest.h>

using bim::RateWindow;
using std::chrono::milliseconds;
using std::chrono::seconds;
using std::chrono::steady_clock;

TEST_CASE("RateWindow lets the limit through in a window, refuses the rest, and starts again") {
  RateWindow w(3, seconds(10));
  steady_clock::time_point t{seconds(100)};
  CHECK(w.Add(t));
  CHECK(w.Add(t + seconds(1)));
  CHECK(w.Add(t + seconds(9)));
  CHECK_FALSE(w.Add(t + seconds(9)));
  CHECK_FALSE(w.Add(t + milliseconds(9999)));
  // A new window from the first event at or after its end.
  CHECK(w.Add(t + seconds(10)));
  CHECK(w.Add(t + seconds(11)));
  CHECK(w.Add(t + seconds(12)));
  CHECK_FALSE(w.Add(t + seconds(13)));
  CHECK(w.limit() == 3);
}

TEST_CASE("RateWindow starts a new window when time goes back") {
  RateWindow w(1, seconds(10));
  steady_clock::time_point t{seconds(100)};
  CHECK(w.Add(t));
  CHECK_FALSE(w.Add(t));
  CHECK(w.Add(t - seconds(1)));
}
