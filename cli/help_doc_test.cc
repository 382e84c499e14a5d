#include "cli/help_doc.h"

#include <gtest/gtest.h>

#include "cli/commands.h"

namespace slipway::cli {
namespace {

std::string ManOption(const std::string& name) {
  std::string escaped;
  for (char c : name) escaped += c == '-' ? std::string("\\-") : std::string(1, c);
  return "\\fB\\-\\-" + escaped + "\\fR";
}

TEST(HelpDoc, EveryCommandDocumentsItsOptionTable) {
  std::vector<std::string> names;
  for (const auto& c : Commands()) names.push_back(c.name);
  const std::vector<CommandHelp> helps = CollectHelp(names);
  ASSERT_EQ(helps.size(), names.size()) << "a command's --help does not go through PrintHelp";
  for (size_t i = 0; i < helps.size(); ++i) {
    EXPECT_EQ(helps[i].command, names[i]);
    ASSERT_FALSE(helps[i].specs.empty()) << names[i];
    const std::string page = ManPage(helps[i], Commands()[i].summary);
    EXPECT_EQ(page.rfind(".TH slipway\\-" + names[i] + " 1 ", 0), 0u) << page.substr(0, 80);
    for (const auto& s : helps[i].specs) {
      EXPECT_NE(page.find(ManOption(s.name)), std::string::npos) << names[i] << " --" << s.name;
    }
    EXPECT_NE(page.find(".SH EXIT STATUS\n.TP\n.B 0\n"), std::string::npos);
  }
}

TEST(HelpDoc, CompletionOffersEachCommandItsOwnOptions) {
  const std::vector<CommandHelp> helps = CollectHelp({"stream", "status"});
  ASSERT_EQ(helps.size(), 2u);
  const std::string script = BashCompletion(helps);
  EXPECT_NE(script.find("compgen -W \"stream status help --help --version\""), std::string::npos) << script;
  const size_t stream = script.find("    stream) opts=\"");
  const size_t status = script.find("    status) opts=\"");
  ASSERT_NE(stream, std::string::npos);
  ASSERT_NE(status, std::string::npos);
  const std::string stream_line = script.substr(stream, script.find('\n', stream) - stream);
  const std::string status_line = script.substr(status, script.find('\n', status) - status);
  EXPECT_NE(stream_line.find(" --until-caught-up"), std::string::npos) << stream_line;
  EXPECT_EQ(status_line.find(" --until-caught-up"), std::string::npos) << status_line;
  EXPECT_NE(status_line.find(" --watch"), std::string::npos) << status_line;
  // File-valued options complete file names.
  EXPECT_NE(script.find("--pause-file|"), std::string::npos) << script;
  EXPECT_NE(script.find("complete -o default -F _slipway slipway"), std::string::npos);
}

TEST(HelpDoc, RoffEscapesWhatManWouldReadAsRequests) {
  CommandHelp h{"x", "slipway x", {{"dots", true, ".starts with a dot \\ and a backslash", "N"}}};
  const std::string page = ManPage(h, "a summary");
  EXPECT_NE(page.find("\n\\&.starts with a dot \\\\ and a backslash\n"), std::string::npos) << page;
}


}  // namespace
}  // namespace slipway::cli

namespace slipway::cli {
namespace {

int MainWith(std::vector<std::string> args) {
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  return Main(static_cast<int>(argv.size()), argv.data());
}

TEST(CommandLine, DashHIsHelpAndUsageErrorsPointToIt) {
  ::testing::internal::CaptureStdout();
  EXPECT_EQ(MainWith({"slipway", "plan", "-h"}), 0);
  EXPECT_EQ(::testing::internal::GetCapturedStdout().rfind("usage: slipway plan ", 0), 0u);
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(MainWith({"slipway", "status", "--bogus"}), 2);
  EXPECT_EQ(::testing::internal::GetCapturedStderr(),
            "slipway: error: unknown option --bogus (see slipway status --help)\n");
}

// Every command's --help fits 100 columns, keeps each description apart
// from its option, and says where its exit codes are listed.
TEST(CommandLine, HelpLinesAreShortAndPointToTheExitCodes) {
  for (const auto& c : Commands()) {
    ::testing::internal::CaptureStdout();
    EXPECT_EQ(MainWith({"slipway", c.name, "--help"}), 0) << c.name;
    const std::string out = ::testing::internal::GetCapturedStdout();
    size_t p = 0;
    while (p < out.size()) {
      size_t e = out.find('\n', p);
      if (e == std::string::npos) e = out.size();
      const std::string line = out.substr(p, e - p);
      EXPECT_LE(line.size(), 100u) << c.name << ": " << line;
      // An option line: its description starts in column 32, after a gap
      // (an option too long for the column stands alone on its line).
      const size_t gap = line.rfind("  --", 0) == 0 ? line.find("  ", 4) : std::string::npos;
      if (gap != std::string::npos) {
        EXPECT_EQ(line.find_first_not_of(' ', gap), 32u) << c.name << ": " << line;
      }
      p = e + 1;
    }
    EXPECT_NE(out.find("exit codes: 0 on success"), std::string::npos) << c.name;
    EXPECT_NE(out.find("man slipway-" + std::string(c.name)), std::string::npos) << c.name;
  }
}

}  // namespace
}  // namespace slipway::cli
