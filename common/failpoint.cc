#include "common/failpoint.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <map>
#include <mutex>
#include <string>

namespace slipway {
namespace {

struct Point {
  std::string action;
  int fire_on = 1;  // fire on this hit (1-based)
  int hits = 0;
};

std::once_flag g_once;
std::mutex g_mu;
std::map<std::string, Point, std::less<>>* g_points = nullptr;
std::atomic<bool> g_any{false};

void Load() {
  const char* env = std::getenv("SLIPWAY_FAILPOINTS");
  if (env == nullptr || *env == '\0') return;
  g_points = new std::map<std::string, Point, std::less<>>();  // lives for the process
  std::string_view spec(env);
  while (!spec.empty()) {
    size_t comma = spec.find(',');
    std::string_view item = spec.substr(0, comma);
    size_t eq = item.find('=');
    if (eq != std::string_view::npos) {
      Point p;
      std::string_view action = item.substr(eq + 1);
      size_t at = action.find('@');
      if (at != std::string_view::npos) {
        p.fire_on = std::atoi(std::string(action.substr(at + 1)).c_str());
        action = action.substr(0, at);
      }
      p.action = std::string(action);
      (*g_points)[std::string(item.substr(0, eq))] = p;
    }
    if (comma == std::string_view::npos) break;
    spec.remove_prefix(comma + 1);
  }
  g_any.store(!g_points->empty(), std::memory_order_relaxed);
}

}  // namespace

FailAction HitFailpoint(std::string_view name) {
  std::call_once(g_once, Load);
  if (!g_any.load(std::memory_order_relaxed)) return FailAction::kNone;
  std::lock_guard<std::mutex> lock(g_mu);
  auto it = g_points->find(name);
  if (it == g_points->end()) return FailAction::kNone;
  if (++it->second.hits != it->second.fire_on) return FailAction::kNone;
  if (it->second.action == "crash") {
    ::kill(::getpid(), SIGKILL);
    ::pause();
  }
  if (it->second.action == "error") return FailAction::kError;
  return FailAction::kNone;
}

Status FailpointStatus(std::string_view name) {
  if (HitFailpoint(name) == FailAction::kError) {
    return Status(Code::kInternal, "failpoint " + std::string(name) + " fired");
  }
  return Status::Ok();
}

}  // namespace slipway
