#include "common/backoff.h"

#include <doctest/doctest.h>

namespace {
// A random source pinned to one value, so each delay is exact.
class FixedRandom final : public bim::Random {
 public:
  explicit FixedRandom(double u) : u_(u) {}
  double Uniform() override { return u_; }
  uint64_t Next64() override { return 42; }

 private:
  double u_;
};
}  // namespace

using std::chrono::milliseconds;

TEST_CASE("backoff doubles up to the cap, jittered between half and all of the ceiling") {
  FixedRandom top(0.999999);
  bim::Backoff b(milliseconds(100), milliseconds(1000), top);
  CHECK(b.Next().count() == 99);
  CHECK(b.Next().count() == 199);
  CHECK(b.Next().count() == 399);
  CHECK(b.Next().count() == 799);
  CHECK(b.Next().count() == 999);
  CHECK(b.Next().count() == 999);

  FixedRandom bottom(0.0);
  bim::Backoff low(milliseconds(100), milliseconds(1000), bottom);
  CHECK(low.Next().count() == 50);
  CHECK(low.Next().count() == 100);
  low.Reset();
  CHECK(low.Next().count() == 50);
}

TEST_CASE("backoff never overflows after many attempts") {
  FixedRandom r(0.5);
  bim::Backoff b(milliseconds(1), milliseconds(5000), r, 3.0);
  milliseconds last{0};
  for (int i = 0; i < 1000; ++i) last = b.Next();
  CHECK(last.count() == 3750);
}

TEST_CASE("uuids are version 4 and distinct") {
  bim::StdRandom r(7);
  std::string a = bim::NewUuid(r), b = bim::NewUuid(r);
  CHECK(a.size() == 36);
  CHECK(a[14] == '4');
  CHECK(std::string("89ab").find(a[19]) != std::string::npos);
  CHECK(a != b);
}
