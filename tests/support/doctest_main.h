#pragma once
// The main of every doctest binary here: doctest's own, except that a run whose filters select
// no test case fails. CTest runs each test case through a name filter (doctest_discover_tests, or
// a hand-written --test-case); a filter that matches nothing, through a typo or a name the
// filter syntax splits, would otherwise pass with nothing tested.
// Include in exactly one file per binary, after defining DOCTEST_CONFIG_IMPLEMENT.

#include <doctest/doctest.h>

#include <cstdio>

namespace bim::test {

// Records how many test cases the filters selected; doctest calls it at the end of the run.
class SelectedCount : public doctest::IReporter {
 public:
  explicit SelectedCount(const doctest::ContextOptions&) {}
  static unsigned& selected() {
    static unsigned n = 0;
    return n;
  }
  void report_query(const doctest::QueryData&) override {}
  void test_run_start() override {}
  void test_run_end(const doctest::TestRunStats& stats) override {
    selected() = stats.numTestCasesPassingFilters;
  }
  void test_case_start(const doctest::TestCaseData&) override {}
  void test_case_reenter(const doctest::TestCaseData&) override {}
  void test_case_end(const doctest::CurrentTestCaseStats&) override {}
  void test_case_exception(const doctest::TestCaseException&) override {}
  void subcase_start(const doctest::SubcaseSignature&) override {}
  void subcase_end() override {}
  void log_assert(const doctest::AssertData&) override {}
  void log_message(const doctest::MessageData&) override {}
  void test_case_skipped(const doctest::TestCaseData&) override {}
};
DOCTEST_REGISTER_LISTENER("bim_selected_count", 1, SelectedCount);

inline int RunDoctest(int argc, char** argv) {
  doctest::Context context(argc, argv);
  int rc = context.run();
  if (context.shouldExit()) return rc;  // --help, --list-test-cases and the like
  if (rc == 0 && SelectedCount::selected() == 0) {
    std::fprintf(stderr, "FAILED: no test case matched the filters, so nothing was tested\n");
    return 1;
  }
  return rc;
}

}  // namespace bim::test
