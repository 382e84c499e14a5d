// deploy/systemd/slipway-stream@.service: its ExecStart= line, expanded the
// way systemd expands it (%i, ${VAR} as one word, $VAR split on spaces) from
// the sample env file, runs the stream against a throwaway PostgreSQL; its
// restart policy stops on the exit codes that need an operator.
#include <filesystem>
#include <set>

#include "common/exit_codes.h"
#include "tests/integration/http_get.h"
#include "tests/integration/stream_fixture.h"

namespace slipway::testing {
namespace {

const std::string kUnitTemplate = std::string(SLIPWAY_SOURCE_DIR) + "/deploy/systemd/slipway-stream@.service.in";
const std::string kEnvExample = std::string(SLIPWAY_SOURCE_DIR) + "/deploy/systemd/slipway-stream.env.example";

// Key=value settings of a unit's [Service] section, in order (a key may repeat).
std::vector<std::pair<std::string, std::string>> UnitSettings(const std::string& text) {
  std::vector<std::pair<std::string, std::string>> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#' || line[0] == ';' || line[0] == '[') continue;
    const size_t eq = line.find('=');
    if (eq == std::string::npos) continue;
    out.emplace_back(line.substr(0, eq), line.substr(eq + 1));
  }
  return out;
}

std::string Setting(const std::string& unit, const std::string& key) {
  std::string value;
  for (const auto& [k, v] : UnitSettings(unit)) {
    if (k == key) value = v;
  }
  return value;
}

// An EnvironmentFile=: KEY=VALUE lines, comments and blank lines skipped,
// one pair of surrounding quotes removed.
std::map<std::string, std::string> ParseEnvFile(const std::string& text) {
  std::map<std::string, std::string> env;
  for (const auto& [k, v] : UnitSettings(text)) {
    std::string value = v;
    if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') && value.back() == value.front()) {
      value = value.substr(1, value.size() - 2);
    }
    env[k] = value;
  }
  return env;
}

std::vector<std::string> SplitSpaces(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  std::string w;
  while (in >> w) out.push_back(w);
  return out;
}

// systemd's ExecStart= expansion: specifiers first, then per word: a word
// that is exactly $VAR becomes the variable's words; ${VAR} inside a word is
// replaced by the value as is.
std::vector<std::string> ExpandExecStart(const std::string& line, const std::string& instance,
                                         const std::map<std::string, std::string>& env) {
  std::string s = std::regex_replace(line, std::regex("%i"), instance);
  std::vector<std::string> argv;
  for (const std::string& word : SplitSpaces(s)) {
    static const std::regex kWhole("^\\$([A-Za-z_][A-Za-z0-9_]*)$");
    std::smatch m;
    if (std::regex_match(word, m, kWhole)) {
      auto it = env.find(m[1]);
      if (it != env.end()) {
        for (auto& w : SplitSpaces(it->second)) argv.push_back(w);
      }
      continue;
    }
    std::string out;
    static const std::regex kBraced("\\$\\{([A-Za-z_][A-Za-z0-9_]*)\\}");
    size_t last = 0;
    for (std::sregex_iterator it(word.begin(), word.end(), kBraced), end; it != end; ++it) {
      out += word.substr(last, static_cast<size_t>(it->position()) - last);
      auto v = env.find((*it)[1]);
      if (v != env.end()) out += v->second;
      last = static_cast<size_t>(it->position() + it->length());
    }
    out += word.substr(last);
    argv.push_back(out);
  }
  return argv;
}

std::set<int> ExitStatusSet(const std::string& value) {
  std::set<int> out;
  for (const auto& w : SplitSpaces(value)) out.insert(std::stoi(w));
  return out;
}

}  // namespace

TEST(ServiceUnit, RestartStopsOnlyWhereAnOperatorMustDecide) {
  const std::string unit = ReadFile(kUnitTemplate);
  ASSERT_FALSE(unit.empty()) << kUnitTemplate;
  EXPECT_EQ(Setting(unit, "Restart"), "on-failure");
  const std::set<int> prevent = ExitStatusSet(Setting(unit, "RestartPreventExitStatus"));
  for (ExitCode c : {ExitCode::kDifferent, ExitCode::kUsage, ExitCode::kBlocked, ExitCode::kSourceMissing,
                     ExitCode::kNotSqlite, ExitCode::kAuthFailed, ExitCode::kConflict, ExitCode::kSchemaChanged,
                     ExitCode::kWrongSource, ExitCode::kPermission, ExitCode::kNoCapture}) {
    EXPECT_EQ(prevent.count(static_cast<int>(c)), 1u) << "exit code " << static_cast<int>(c) << " restarts";
  }
  for (ExitCode c : {ExitCode::kUnreachable, ExitCode::kIo, ExitCode::kSourceLocked, ExitCode::kInternal}) {
    EXPECT_EQ(prevent.count(static_cast<int>(c)), 0u) << "exit code " << static_cast<int>(c) << " does not restart";
  }
  EXPECT_EQ(Setting(unit, "ProtectSystem"), "strict");
  EXPECT_EQ(Setting(unit, "NoNewPrivileges"), "yes");
  EXPECT_EQ(Setting(unit, "PrivateTmp"), "yes");
  EXPECT_EQ(Setting(unit, "EnvironmentFile"), "/etc/slipway/%i.env");
  const std::string exec = Setting(unit, "ExecStart");
  EXPECT_EQ(exec.find("--target"), std::string::npos) << "the target stays off the command line: " << exec;
  EXPECT_EQ(exec.find("SLIPWAY_TARGET"), std::string::npos) << exec;

  // Where systemd is installed, its own parser reads the unit: no key it
  // does not know (a misspelt hardening option would be ignored silently).
  if (::access("/usr/bin/systemd-analyze", X_OK) == 0) {
    const std::string dir = TempDir();
    const std::string path = dir + "/slipway-stream@.service";
    {
      std::ofstream out(path);
      out << std::regex_replace(unit, std::regex("@SLIPWAY_BINDIR@"),
                                std::filesystem::path(SLIPWAY_BINARY).parent_path().string());
    }
    RunResult verify = RunProgram("/usr/bin/systemd-analyze", {"verify", "--man=no", dir + "/slipway-stream@move1.service"});
    EXPECT_EQ(verify.err.find("Unknown"), std::string::npos) << verify.err;
    EXPECT_EQ(verify.err.find("ignoring"), std::string::npos) << verify.err;
  }
}

class ServiceUnitTest : public StreamTest {};

TEST_F(ServiceUnitTest, ExecStartAsWrittenStreamsChangesAcrossARestart) {
  ASSERT_NO_FATAL_FAILURE(InitAndSnapshot());
  const std::string unit = ReadFile(kUnitTemplate);
  // Environment= defaults, then the env file, which overrides them.
  std::map<std::string, std::string> env;
  for (const auto& [k, v] : UnitSettings(unit)) {
    if (k != "Environment") continue;
    const size_t eq = v.find('=');
    env[v.substr(0, eq)] = v.substr(eq + 1);
  }
  std::map<std::string, std::string> sample = ParseEnvFile(ReadFile(kEnvExample));
  ASSERT_TRUE(sample.count("SLIPWAY_SOURCE") && sample.count("SLIPWAY_TARGET")) << kEnvExample;
  sample["SLIPWAY_SOURCE"] = db_;
  sample["SLIPWAY_TARGET"] = target_;
  sample["SLIPWAY_HTTP"] = "127.0.0.1:0";
  const std::string instance = "move1";
  std::string env_path = Setting(unit, "EnvironmentFile");
  env_path = std::regex_replace(env_path, std::regex("%i"), instance);
  ASSERT_EQ(env_path, "/etc/slipway/move1.env");
  const std::string scratch_env = dir_ + env_path;
  std::filesystem::create_directories(std::filesystem::path(scratch_env).parent_path());
  {
    std::ofstream out(scratch_env);
    for (const auto& [k, v] : sample) out << k << "=" << v << "\n";
  }
  for (const auto& [k, v] : ParseEnvFile(ReadFile(scratch_env))) env[k] = v;

  // @SLIPWAY_BINDIR@ is the install's bin folder (cmake/Install.cmake); here
  // the build's.
  std::string exec = Setting(unit, "ExecStart");
  exec = std::regex_replace(exec, std::regex("@SLIPWAY_BINDIR@"),
                            std::filesystem::path(SLIPWAY_BINARY).parent_path().string());
  std::vector<std::string> argv = ExpandExecStart(exec, instance, env);
  ASSERT_GE(argv.size(), 2u);
  EXPECT_EQ(argv[0], SLIPWAY_BINARY);
  for (const auto& a : argv) EXPECT_EQ(a.find(target_), std::string::npos) << "target on the command line: " << a;
  EXPECT_NE(std::find(argv.begin(), argv.end(), "--max-cpu"), argv.end()) << "SLIPWAY_STREAM_OPTIONS split into words";

  std::vector<std::string> proc_env;
  for (const auto& [k, v] : env) proc_env.push_back(k + "=" + v);
  const std::vector<std::string> args(argv.begin() + 1, argv.end());

  // The app writes throughout; the unit is restarted in the middle
  // (`systemctl restart`: SIGTERM, then ExecStart= again).
  Proc writer(SLIPWAY_CHANGE_WRITER, WriterArgs(4.0, 7));
  auto stream = std::make_unique<Proc>(argv[0], args, proc_env);
  ASSERT_NE(HttpPortOf(*stream), 0) << "exit " << stream->Wait(1000) << ": " << stream->Err();
  Sleep(1500);
  StopStream(*stream);
  stream = std::make_unique<Proc>(argv[0], args, proc_env);
  const uint16_t port = HttpPortOf(*stream);
  ASSERT_NE(port, 0) << "exit " << stream->Wait(1000) << ": " << stream->Err();
  const int written = writer.Wait(60000);
  ExpectWriterOk(written, writer.Out(), writer.Err());

  json st;
  for (int i = 0; i < 150; ++i) {
    st = json::parse(HttpGet(port, "/status").body, nullptr, false);
    if (st.is_object() && st.value("changes_applied", int64_t{0}) > 0 && st.value("lag_changes", int64_t{1}) == 0) {
      break;
    }
    Sleep(100);
  }
  ASSERT_TRUE(st.is_object());
  EXPECT_GT(st.value("changes_applied", int64_t{0}), 0) << st.dump();
  EXPECT_EQ(st.value("lag_changes", int64_t{-1}), 0) << st.dump();
  StopStream(*stream);
  // Nothing lost or applied twice across the restart.
  CatchUpAndVerify();
}

}  // namespace slipway::testing
