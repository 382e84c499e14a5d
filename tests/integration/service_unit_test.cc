// deploy/systemd/slipway-stream@.service: its restart policy stops on the
// exit codes that need an operator; and, installed from the Debian package
// into a scratch root, its ExecStart= line, expanded the way systemd expands
// it (%i, ${VAR} as one word, $VAR split on spaces) with its EnvironmentFile=,
// runs the stream against a throwaway PostgreSQL across restarts of the unit.
#include <filesystem>
#include <set>

#include "common/exit_codes.h"
#include "tests/integration/http_get.h"
#include "tests/integration/stream_fixture.h"

namespace slipway::testing {
namespace {

const std::string kUnitTemplate = std::string(SLIPWAY_SOURCE_DIR) + "/deploy/systemd/slipway-stream@.service.in";

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

// The package as deploy/package.sh builds it: SLIPWAY_DEB (ctest's
// package_build fixture), else built here from the build tree. Empty when
// cpack or dpkg-deb is missing (exit 77 of the script).
std::string PackageDeb(const std::string& dir) {
  if (const char* deb = std::getenv("SLIPWAY_DEB"); deb != nullptr && *deb != '\0') return deb;
  RunResult b = RunProgram("/bin/bash", {std::string(SLIPWAY_SOURCE_DIR) + "/tests/package_build.sh", SLIPWAY_BUILD_DIR,
                                         dir + "/package"});
  if (b.exit_code == 77) return "";
  EXPECT_EQ(b.exit_code, 0) << b.out << b.err;
  return dir + "/package/slipway.deb";
}

// The README's "Running it as a service" with the demo's database, in a
// scratch root: the package unpacked (dpkg -x), /etc/slipway/app.env made from
// the installed example, the installed unit's ExecStart= run with its
// environment as systemd would run slipway-stream@app. The race-timing app
// writes throughout; the unit is restarted (`systemctl restart`: SIGTERM,
// then ExecStart= again) and its process killed (SIGKILL: Restart=on-failure
// starts it again). Every write the app acknowledged reaches PostgreSQL, and
// the installed `slipway verify` finds both sides equal.
class ServiceUnitTest : public TargetTest {};

TEST_F(ServiceUnitTest, InstalledPackageStreamsAcrossRestartsOfItsUnit) {
  const std::string deb = PackageDeb(dir_);
  if (deb.empty()) {
    if (std::getenv("CI") != nullptr && std::string(std::getenv("CI")) == "true") FAIL() << "cpack or dpkg-deb missing";
    GTEST_SKIP() << "cpack or dpkg-deb not installed";
  }
  ASSERT_TRUE(std::filesystem::exists(deb)) << deb;
  const std::string root = dir_ + "/root";
  RunResult x = RunProgram("/usr/bin/dpkg-deb", {"-x", deb, root});
  ASSERT_EQ(x.exit_code, 0) << x.err;
  const std::string slipway = root + "/usr/bin/slipway";
  ASSERT_TRUE(std::filesystem::exists(slipway)) << "no /usr/bin/slipway in " << deb;
  const std::string unit = ReadFile(root + "/usr/lib/systemd/system/slipway-stream@.service");
  ASSERT_FALSE(unit.empty()) << "no /usr/lib/systemd/system/slipway-stream@.service in " << deb;

  // The demo's database (bench/gen_racetiming), snapshotted by the installed
  // binary with the target in the environment, as the app's user would.
  const std::string db = dir_ + "/srv/app/app.db";
  std::filesystem::create_directories(dir_ + "/srv/app");
  RunResult gen = RunProgram(SLIPWAY_GEN_RACETIMING, {"--out", db, "--rows", "5000", "--seed", "42"});
  ASSERT_EQ(gen.exit_code, 0) << gen.err;
  const std::vector<std::string> target_env = {"SLIPWAY_TARGET=" + target_};
  RunResult plan = RunProgram(slipway, {"plan", "--source", db, "--target", target_, "--out", dir_ + "/plan.json"});
  ASSERT_EQ(plan.exit_code, 0) << plan.out << plan.err;
  RunResult snap = RunProgram(slipway, {"snapshot", "--source", db, "--plan", dir_ + "/plan.json"}, target_env);
  ASSERT_EQ(snap.exit_code, 0) << snap.out << snap.err;

  // /etc/slipway/app.env from the installed example, its settings edited.
  const std::string instance = "app";
  const std::string env_file =
      root + std::regex_replace(Setting(unit, "EnvironmentFile"), std::regex("%i"), instance);
  ASSERT_EQ(env_file, root + "/etc/slipway/app.env");
  std::filesystem::create_directories(std::filesystem::path(env_file).parent_path());
  std::string example = ReadFile(root + "/usr/share/doc/slipway/examples/slipway-stream.env.example");
  ASSERT_FALSE(example.empty()) << "no example env file in " << deb;
  const std::map<std::string, std::string> edits = {
      {"SLIPWAY_SOURCE", db}, {"SLIPWAY_TARGET", target_}, {"SLIPWAY_HTTP", "127.0.0.1:0"}};
  for (const auto& [key, value] : edits) {
    const std::regex line("^" + key + "=.*$", std::regex::multiline);
    ASSERT_TRUE(std::regex_search(example, line)) << "the example has no " << key;
    example = std::regex_replace(example, line, key + "=" + value);
  }
  {
    std::ofstream out(env_file);
    out << example;
  }
  std::filesystem::permissions(env_file, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);

  // Environment= defaults, then the env file, which overrides them.
  std::map<std::string, std::string> env;
  for (const auto& [k, v] : UnitSettings(unit)) {
    if (k != "Environment") continue;
    const size_t eq = v.find('=');
    env[v.substr(0, eq)] = v.substr(eq + 1);
  }
  for (const auto& [k, v] : ParseEnvFile(ReadFile(env_file))) env[k] = v;
  std::vector<std::string> argv = ExpandExecStart(Setting(unit, "ExecStart"), instance, env);
  ASSERT_GE(argv.size(), 2u);
  ASSERT_EQ(argv[0], "/usr/bin/slipway") << "the unit runs the installed binary";
  for (const auto& a : argv) EXPECT_EQ(a.find(target_), std::string::npos) << "target on the command line: " << a;
  EXPECT_NE(std::find(argv.begin(), argv.end(), "--max-cpu"), argv.end()) << "SLIPWAY_STREAM_OPTIONS split into words";
  std::vector<std::string> proc_env;
  for (const auto& [k, v] : env) proc_env.push_back(k + "=" + v);
  const std::vector<std::string> args(argv.begin() + 1, argv.end());
  const std::string exec = root + argv[0];
  auto start = [&] {
    auto p = std::make_unique<Proc>(exec, args, proc_env);
    EXPECT_NE(HttpPortOf(*p), 0) << "exit " << p->Wait(1000) << ": " << p->Err();
    return p;
  };

  const std::string acks = dir_ + "/acks.log";
  Proc writer(SLIPWAY_APP_WRITER, {"--db", db, "--rate", "300", "--seconds", "0", "--ack-log", acks, "--seed", "9"});
  auto service = start();
  ASSERT_FALSE(HasFailure());
  Sleep(1500);
  // systemctl restart slipway-stream@app: SIGTERM finishes the batch, exit 0.
  ASSERT_EQ(Setting(unit, "KillSignal"), "SIGTERM");
  service->Signal(SIGTERM);
  ASSERT_EQ(service->Wait(30000), 0) << service->Err();
  service = start();
  ASSERT_FALSE(HasFailure());
  Sleep(1500);
  // The process dies (SIGKILL): Restart=on-failure starts it again.
  ASSERT_EQ(Setting(unit, "Restart"), "on-failure");
  service->Signal(SIGKILL);
  ASSERT_EQ(service->Wait(10000), kKilled);
  service = start();
  ASSERT_FALSE(HasFailure());
  const uint16_t port = HttpPortOf(*service);
  Sleep(1500);
  writer.Signal(SIGTERM);
  ASSERT_EQ(writer.Wait(10000), 0) << writer.Err();

  json st;
  for (int i = 0; i < 150; ++i) {
    st = json::parse(HttpGet(port, "/status").body, nullptr, false);
    if (st.is_object() && st.value("changes_applied", int64_t{0}) > 0 && st.value("lag_changes", int64_t{1}) == 0) {
      break;
    }
    Sleep(100);
  }
  ASSERT_TRUE(st.is_object());
  EXPECT_EQ(st.value("lag_changes", int64_t{-1}), 0) << st.dump();
  const HttpReply page = HttpGet(port, "/");
  EXPECT_EQ(page.code, 200);
  EXPECT_NE(page.body.find("slipway stream"), std::string::npos) << "the service's status page";
  // systemctl stop.
  service->Signal(SIGTERM);
  ASSERT_EQ(service->Wait(30000), 0) << service->Err();

  RunResult v = RunProgram(slipway, {"verify", "--source", db, "--json"}, target_env);
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
  json j = json::parse(v.out, nullptr, false);
  ASSERT_TRUE(j.is_object()) << v.out;
  EXPECT_TRUE(j.value("equal", false)) << v.out;
  for (const auto& t : j["tables"]) EXPECT_EQ(t["pending"].get<int64_t>(), 0) << t.dump();
  ExpectAcknowledgedResultsIn(acks, target_, 100);
}

}  // namespace slipway::testing
