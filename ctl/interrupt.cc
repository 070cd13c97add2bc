#include "ctl/interrupt.h"

#include <signal.h>
#include <unistd.h>

#include <mutex>
#include <thread>

namespace bim::ctl::interrupt {
namespace {

std::mutex g_mu;
std::function<void()> g_handler;  // guarded by g_mu
int g_deferred = 0;               // live Deferred objects; guarded by g_mu
bool g_exit_pending = false;      // a signal came while g_deferred > 0; guarded by g_mu

}  // namespace

void Install() {
  static sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::thread([] {
    while (true) {
      int sig = 0;
      if (sigwait(&set, &sig) != 0) continue;
      std::function<void()> h;
      {
        std::lock_guard lock(g_mu);
        h = g_handler;
        if (!h && g_deferred > 0) {
          g_exit_pending = true;
          continue;
        }
      }
      if (!h) ::_exit(130);
      h();
    }
  }).detach();
}

void SetHandler(std::function<void()> handler) {
  std::lock_guard lock(g_mu);
  g_handler = std::move(handler);
}

Deferred::Deferred() {
  std::lock_guard lock(g_mu);
  ++g_deferred;
}

Deferred::~Deferred() {
  std::lock_guard lock(g_mu);
  if (--g_deferred == 0 && g_exit_pending) ::_exit(130);
}

}  // namespace bim::ctl::interrupt
