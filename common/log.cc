#include "common/log.h"

#include <spdlog/sinks/stdout_color_sinks.h>

#include <mutex>

namespace slipway {
namespace {

std::mutex g_mu;
spdlog::sink_ptr g_sink;
spdlog::level::level_enum g_level = spdlog::level::info;
std::string g_pattern = "%Y-%m-%dT%H:%M:%S.%e %^%l%$ [%n] %v";

spdlog::sink_ptr SinkLocked() {
  if (!g_sink) g_sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
  return g_sink;
}

}  // namespace

std::shared_ptr<spdlog::logger> Logger(const std::string& part) {
  std::lock_guard<std::mutex> lock(g_mu);
  auto existing = spdlog::get(part);
  if (existing) return existing;
  auto logger = std::make_shared<spdlog::logger>(part, SinkLocked());
  logger->set_level(g_level);
  logger->set_pattern(g_pattern);
  spdlog::register_logger(logger);
  return logger;
}

void SetupLogging(const std::string& level, bool json) {
  std::lock_guard<std::mutex> lock(g_mu);
  g_level = spdlog::level::from_str(level);
  if (json) {
    g_pattern = R"({"ts":"%Y-%m-%dT%H:%M:%S.%e","level":"%l","part":"%n","msg":"%v"})";
  }
  SinkLocked();
  spdlog::apply_all([](const std::shared_ptr<spdlog::logger>& l) {
    l->set_level(g_level);
    l->set_pattern(g_pattern);
  });
}

}  // namespace slipway
