// `slipway stream`: apply every change the app makes, until stopped
// (SIGINT/SIGTERM finish the batch in flight and exit 0) or, with
// --until-caught-up, until the lag is zero.
#include <signal.h>
#include <sys/stat.h>

#include <atomic>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/http_access.h"
#include "cli/plan_report.h"
#include "cli/plan_support.h"
#include "cli/stream_http.h"
#include "cli/target_option.h"
#include "common/count_format.h"
#include "common/log.h"
#include "cutover/continuous_verifier.h"
#include "cutover/cutover.h"
#include "replicator/stream.h"
#include "replicator/target_privileges.h"

namespace slipway::cli {
namespace {

std::atomic<replicator::Stream*> g_stream{nullptr};

void OnSignal(int) {
  if (auto* s = g_stream.load()) s->RequestStop();
}

// Runs `slipway cutover|rollback --resume` with what the move recorded when
// it started (cutover.cc, RecordMoveOptions) and this stream's own source
// and target.
Status FinishInterruptedMove(const std::string& source, const std::string& target, const std::string& move,
                             const std::string& recorded) {
  const std::string by_hand = "finish it with `slipway " + move + " --resume` or undo it with `--abort`";
  nlohmann::json j = nlohmann::json::parse(recorded, nullptr, false);
  if (!j.is_object() || j.value("direction", "") != move) {
    return Status(Code::kConflict, "the interrupted " + move + " recorded no config to flip; " + by_hand);
  }
  if (j.value("app_url_withheld", false)) {
    return Status(Code::kConflict, "the interrupted " + move + "'s --app-url holds a password, which is never "
                                   "recorded; " + by_hand + " and its --app-url");
  }
  cutover::CutoverOptions o;
  o.direction = move == "cutover" ? cutover::Direction::kForward : cutover::Direction::kReverse;
  o.source_path = source;
  o.target_uri = target;
  o.flip_file = j.value("flip_file", "");
  o.flip_key = j.value("flip_key", "");
  o.create_flip_file = j.value("create_flip_file", false);
  if (!j.value("app_url_is_target", false)) o.app_url = j.value("app_url", "");
  o.resume = true;
  ASSIGN_OR_RETURN(cutover::CutoverReport r, cutover::RunCutover(o));
  (void)r;
  return Status::Ok();
}

}  // namespace

int RunStream(const std::vector<std::string>& argv) {
  std::vector<OptionSpec> specs = {
      {"source", true, "the SQLite database file", "FILE"},
      {"target", true, "PostgreSQL connection URI (or --target-file, or SLIPWAY_TARGET)", "URI"},
      TargetFileSpec(),
      {"until-caught-up", false, "exit once every change is applied"},
      {"pause-file", true, "apply nothing while this file exists", "PATH"},
      {"max-cpu", true, "share of one core the apply loop may use (default 100)", "PERCENT"},
      {"wal-checkpoint-pages", true,
       "checkpoint the app's WAL once it holds this many frames (passive: never blocks the app), so that "
       "the app's commits need not (default 256, below SQLite's 1000; 0: leave checkpoints to the app)",
       "N"},
      {"verify-rate", true,
       "verify the copy in the background at up to this many rows/s while streaming forward, paused with the "
       "stream (default 5000; 0: off)",
       "ROWS"},
      {"verify-chunk-rows", true, "rows per background verify chunk, each its own short read (default 500)", "N"},
      {"http", true, "serve /status, /metrics, POST /pause, /resume on ADDR:PORT (loopback)", "ADDR:PORT"},
      HttpAccessSpecs()[0],
      HttpAccessSpecs()[1],
      {"no-auto-resume", false,
       "leave a cutover or rollback that died after its fence to an operator (default: finish it at once, "
       "as `--resume` would: the app cannot write until it is finished)"},
      {"help", false, "show this help"},
  };
  auto args = Args::Parse(argv, specs);
  if (!args.ok()) return Fail(args.status());
  if (args->Has("help")) {
    PrintHelp("stream", "slipway stream --source FILE --target URI [--until-caught-up]", specs);
    return 0;
  }
  if (Status t = ResolveTarget(*args, TargetEnv::kUse); !t.ok()) return Fail(t);
  auto source = args->Require("source");
  auto target = args->Require("target");
  if (!source.ok()) return Fail(source.status());
  if (!target.ok()) return Fail(target.status());
  auto cpu = args->GetInt("max-cpu", 100);
  if (!cpu.ok()) return Fail(cpu.status());
  if (*cpu < 1 || *cpu > 100) return Fail(InvalidArgument("--max-cpu must be 1..100"));
  auto ckpt = args->GetInt("wal-checkpoint-pages", 256);
  if (!ckpt.ok()) return Fail(ckpt.status());
  if (*ckpt < 0) return Fail(InvalidArgument("--wal-checkpoint-pages must be 0 or more"));

  auto verify_rate = args->GetInt("verify-rate", 5000);
  if (!verify_rate.ok()) return Fail(verify_rate.status());
  if (*verify_rate < 0) return Fail(InvalidArgument("--verify-rate must be 0 or more"));
  auto verify_chunk = args->GetInt("verify-chunk-rows", 500);
  if (!verify_chunk.ok()) return Fail(verify_chunk.status());
  if (*verify_chunk < 1) return Fail(InvalidArgument("--verify-chunk-rows must be 1 or more"));

  auto lp = OpenSource(*args);
  if (!lp.ok()) return Fail(lp.status());
  replicator::StreamOptions o;
  o.source_path = *source;
  o.target_uri = *target;
  o.until_caught_up = args->Has("until-caught-up");
  o.pause_file = args->GetOr("pause-file", "");
  o.max_cpu_percent = *cpu;
  o.wal_checkpoint_pages = *ckpt;
  if (!args->Has("no-auto-resume")) {
    o.finish_interrupted = [source = *source, target = *target](const std::string& move, const std::string& recorded) {
      return FinishInterruptedMove(source, target, move, recorded);
    };
  }
  // A role that may not apply is the operator's to fix before the stream
  // starts; an unreachable target is the stream's to wait for.
  if (auto pg = PgConn::Connect(*target); pg.ok()) {
    Status s = replicator::CheckReplicationRole(*pg);
    if (!s.ok()) return Fail(s);
  }
  // The background verifier pauses with the stream: the pause file and
  // POST /pause.
  replicator::Stream* running_stream = nullptr;
  std::unique_ptr<cutover::ContinuousVerifier> verifier;
  if (*verify_rate > 0 && !o.until_caught_up) {
    cutover::ContinuousVerifyOptions vo;
    vo.source_path = *source;
    vo.target_uri = *target;
    vo.rows_per_second = static_cast<double>(*verify_rate);
    vo.chunk_rows = *verify_chunk;
    vo.max_cpu_percent = *cpu;
    vo.paused = [&running_stream, pause_file = o.pause_file] {
      struct stat st {};
      if (!pause_file.empty() && ::stat(pause_file.c_str(), &st) == 0) return true;
      return running_stream != nullptr && running_stream->figures().paused.load();
    };
    verifier = std::make_unique<cutover::ContinuousVerifier>(std::move(vo));
    o.keep_changelog_after = [v = verifier.get()] { return v->KeepChangelogAfter(); };
  }
  replicator::Stream stream(o);
  running_stream = &stream;
  (*lp)->source = Db();  // the stream opens its own connection

  std::unique_ptr<HttpToken> token;
  std::unique_ptr<StreamHttp> http;
  if (auto addr = args->Get("http")) {
    auto t = HttpToken::FromArgs(*args, *source + ".slipway-stream-http-token");
    if (!t.ok()) return Fail(t.status());
    token = std::move(*t);
    auto h = StreamHttp::Start(*addr, &stream, token->access(), verifier.get());
    if (!h.ok()) return Fail(h.status());
    http = std::move(*h);
  }
  g_stream = &stream;
  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  if (verifier) verifier->Start();
  Status s = stream.Run();
  g_stream = nullptr;
  if (verifier) verifier->Stop();
  if (!s.ok()) return Fail(s);
  auto& f = stream.figures();
  std::printf("stream stopped: applied seq %lld, %s changes in %s rounds, lag %s changes, %s app transactions as "
              "changesets, %s WAL checkpoints (%s frames)\n",
              static_cast<long long>(f.applied_seq.load()), FormatCount(f.changes_applied.load()).c_str(),
              FormatCount(f.rounds.load()).c_str(), FormatCount(f.lag_changes.load()).c_str(),
              FormatCount(f.changesets_applied.load()).c_str(), FormatCount(f.checkpoints.load()).c_str(),
              FormatCount(f.frames_backfilled.load()).c_str());
  return 0;
}

}  // namespace slipway::cli
