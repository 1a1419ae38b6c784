// report_check: checks fields of a `kvlab --report` JSON file (tests/gui/*.txt scripts). Each check is
// POINTER=VALUE (the JSON value, compared exactly: 30, true, "text"), POINTER~TEXT (the string at
// POINTER contains TEXT) or POINTER>NUMBER (a number greater than NUMBER), with POINTER a JSON pointer such as /generated or /hit_rate/cumulative/rate.
// Prints every failed check and exits 1; exits 0 when all hold. Times are never checked.
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: report_check REPORT.json /pointer=value|/pointer~text ...\n");
    return 2;
  }
  std::ifstream f(argv[1]);
  if (!f) {
    std::fprintf(stderr, "report_check: cannot read %s\n", argv[1]);
    return 1;
  }
  nlohmann::json report;
  try {
    f >> report;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "report_check: %s is not JSON: %s\n", argv[1], e.what());
    return 1;
  }
  int failed = 0;
  for (int i = 2; i < argc; ++i) {
    const std::string check = argv[i];
    const auto op = check.find_first_of("=~>");
    if (op == std::string::npos) {
      std::fprintf(stderr, "report_check: '%s' is not POINTER=VALUE, POINTER~TEXT or POINTER>NUMBER\n", check.c_str());
      return 2;
    }
    const std::string pointer = check.substr(0, op), want = check.substr(op + 1);
    const nlohmann::json::json_pointer ptr(pointer);
    if (!report.contains(ptr)) {
      std::fprintf(stderr, "FAILED %s: no such field\n", check.c_str());
      ++failed;
      continue;
    }
    const nlohmann::json& got = report.at(ptr);
    bool ok = false;
    if (check[op] == '~') ok = got.is_string() && got.get<std::string>().find(want) != std::string::npos;
    else if (check[op] == '>') ok = got.is_number() && got.get<double>() > std::stod(want);
    else ok = got == nlohmann::json::parse(want, nullptr, false);
    if (!ok) {
      std::fprintf(stderr, "FAILED %s: the report has %s\n", check.c_str(), got.dump().c_str());
      ++failed;
    }
  }
  if (failed == 0) std::printf("report_check: %d checks passed\n", argc - 2);
  return failed ? 1 : 0;
}
