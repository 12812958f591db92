/* SIGTERM and SIGHUP, caught for the command line: a handler that only notes the signal,
 * and a check the loops call once an iteration (cloud.scheduler, cloud.fleet_loop), which
 * then raise what Ctrl-C raises. Nothing is trapped until trap_signals is called: a program
 * using the library keeps its own signal handling. */
#include <errno.h>
#include <signal.h>
#include <string.h>

#include "class.h"
#include "compat.h"
#include "result.h"
#include "signals.h"

/* The first signal caught, 0 before any. The core's one C global, and the one place a
 * global is right: a handler gets only the signal's number, so what it sets must be
 * reachable without a lua_State. volatile sig_atomic_t is all a handler may write. */
static volatile sig_atomic_t caught = 0;

static void on_signal(int sig) {
  if (!caught) caught = sig;
}

static const int TRAPPED[] = {SIGTERM, SIGHUP};

/* 0, or -1 with errno set. */
static int trap_one(int sig) {
  struct sigaction old;
  if (sigaction(sig, NULL, &old) != 0) return -1;
  /* Ignored (nohup ignores SIGHUP) stays ignored; ours is ours already. After a signal was
   * caught, the next one must kill as usual: its handler is not set again. */
  if (old.sa_handler == SIG_IGN || old.sa_handler == on_signal || caught) return 0;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  /* Both blocked while the handler runs, so "first" is one signal, never two at once. */
  sigemptyset(&sa.sa_mask);
  for (size_t i = 0; i < sizeof TRAPPED / sizeof TRAPPED[0]; i++) sigaddset(&sa.sa_mask, TRAPPED[i]);
  /* SA_RESETHAND: a second signal of the same kind kills. SA_RESTART: a read or write under
   * way (stdio, the record) goes on rather than fail with EINTR; the loops see the signal at
   * their next turn (cloud.scheduler says when). The cast keeps the bits: glibc writes
   * SA_RESETHAND, the sign bit of the int sa_flags, as an unsigned constant. */
  sa.sa_flags = (int)(SA_RESETHAND | SA_RESTART);
  return sigaction(sig, &sa, NULL);
}

/* core.trap_signals() -> true, or nil and why */
static int signals_lua_trap_signals(lua_State *L) {
  for (size_t i = 0; i < sizeof TRAPPED / sizeof TRAPPED[0]; i++) {
    if (trap_one(TRAPPED[i]) != 0) return result_fail(L, 0, "cloud.core.trap_signals: %s", strerror(errno));
  }
  lua_pushboolean(L, 1);
  return 1;
}

/* core.caught_signal() -> name, number of the first signal caught; nil before any */
static int signals_lua_caught_signal(lua_State *L) {
  int sig = caught;
  if (!sig) {
    lua_pushnil(L);
    return 1;
  }
  lua_pushstring(L, sig == SIGTERM ? "SIGTERM" : "SIGHUP");
  lua_pushinteger(L, sig);
  return 2;
}

void signals_lua_register(lua_State *L, int core) {
  static const luaL_Reg funcs[] = {{"trap_signals", signals_lua_trap_signals},
                                   {"caught_signal", signals_lua_caught_signal}, {NULL, NULL}};
  class_functions(L, core, funcs);
}
