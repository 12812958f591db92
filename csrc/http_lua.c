/* core.http{...}: the HTTP engine as a userdata. Lua queues requests with :add and
 * collects finished responses with :run; the engine itself never calls Lua. */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <openssl/crypto.h>

#include "body_lua.h"
#include "canon.h"
#include "class.h"
#include "compat.h"
#include "http.h"
#include "http_lua.h"
#include "number.h"
#include "result.h"
#include "secret.h"

#define HTTP_MT "cloud.core.http"
#define WHERE "cloud.core.http"
/* The name of a method in its errors: METHOD("add") is "cloud.core.http:add". */
#define METHOD(name) HTTP_MT ":" name

typedef struct {
  http_engine *engine;
} engine_ud;

/* The open engine a method was called on. */
static engine_ud *check_open(lua_State *L, const char *where) {
  engine_ud *u = result_checkudata(L, 1, HTTP_MT, where, NULL);
  if (!u->engine) result_argerror(L, where, NULL, "the engine is closed");
  return u;
}

/* Transfers at once: each is a connection, and the ports to one host run out well below. */
#define MAX_CONCURRENCY 65536

/* Option `name`: a whole number from min to max, or dflt when absent. NaN, infinities,
 * fractions and numbers out of range are refused before any conversion. */
static long long opt_integer(lua_State *L, int t, const char *name, long long dflt, long long min,
                             long long max) {
  lua_getfield(L, t, name);
  long long v = dflt;
  if (!lua_isnil(L, -1)) {
    if (lua_type(L, -1) != LUA_TNUMBER || !compat_tointegral(L, -1, &v) || v < min || v > max) {
      char range[64]; /* lua_pushfstring has no long long format in 5.1 */
      snprintf(range, sizeof range, "from %lld to %lld", min, max);
      result_argerror(L, WHERE, name, "must be an integer %s", range);
    }
  }
  lua_pop(L, 1);
  return v;
}

/* Option `name`: seconds from 0.001 on, as the milliseconds curl takes (a long); dflt when
 * absent. The test is on the milliseconds themselves: near the limit, the product rounds. */
static long opt_millis(lua_State *L, int t, const char *name, double dflt) {
  lua_getfield(L, t, name);
  double ms = dflt * 1000;
  if (!lua_isnil(L, -1)) {
    double v = lua_type(L, -1) == LUA_TNUMBER ? (double)lua_tonumber(L, -1) : -1;
    ms = v * 1000;
    if (!(v >= 0.001) || !number_fits_long(ms)) { /* NaN fails both */
      char range[64];
      snprintf(range, sizeof range, "from 0.001 to %ld", LONG_MAX / 1000);
      result_argerror(L, WHERE, name, "must be a number of seconds %s", range);
    }
  }
  lua_pop(L, 1);
  return (long)ms;
}

static const char *opt_string(lua_State *L, int t, const char *name) {
  lua_getfield(L, t, name);
  const char *s = NULL;
  if (!lua_isnil(L, -1)) {
    if (lua_type(L, -1) != LUA_TSTRING) result_argerror(L, WHERE, name, "must be a string");
    s = lua_tostring(L, -1);
  }
  lua_pop(L, 1); /* the options table keeps it alive */
  return s;
}

/* core.http{ concurrency, timeout, connect_timeout, verify_tls, ca_file, proxy, proxy_from_env,
 *             max_response } */
static int http_lua_http(lua_State *L) {
  static const char *const known[] = {"concurrency", "timeout", "connect_timeout", "verify_tls",
                                      "ca_file", "proxy", "proxy_from_env", "max_response", NULL};
  if (lua_isnoneornil(L, 1)) {
    lua_settop(L, 0);
    lua_newtable(L);
  }
  if (lua_type(L, 1) != LUA_TTABLE)
    return result_argerror(L, WHERE, NULL, "expected an options table, not %s", result_typename(L, 1));
  lua_settop(L, 1);
  lua_pushnil(L);
  while (lua_next(L, 1)) {
    int ok = 0;
    if (lua_type(L, -2) == LUA_TSTRING)
      for (int i = 0; known[i]; i++) ok |= strcmp(lua_tostring(L, -2), known[i]) == 0;
    if (!ok) result_argerror(L, WHERE, lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "?", "is unknown");
    lua_pop(L, 1);
  }
  http_options o;
  /* Defaults for callers that give none; the library always passes lua/cloud/defaults.lua's,
   * which these equal (spec/defaults_spec.lua). */
  o.concurrency = (long)opt_integer(L, 1, "concurrency", 8, 1, MAX_CONCURRENCY);
  o.timeout_ms = opt_millis(L, 1, "timeout", 30);
  o.connect_timeout_ms = opt_millis(L, 1, "connect_timeout", 10);
  /* Bytes: up to what a size_t holds (compat_tointegral's long long bounds it on 64 bits). */
  long long max_response = opt_integer(L, 1, "max_response", 64 * 1024 * 1024, 1024,
                                       SIZE_MAX < LLONG_MAX ? (long long)SIZE_MAX : LLONG_MAX);
  o.max_response = (size_t)max_response;
  lua_getfield(L, 1, "verify_tls");
  if (!lua_isnil(L, -1) && !lua_isboolean(L, -1))
    result_argerror(L, WHERE, "verify_tls", "must be true or false");
  o.verify_tls = lua_isnil(L, -1) || lua_toboolean(L, -1);
  lua_pop(L, 1);
  o.ca_file = opt_string(L, 1, "ca_file");
  o.proxy = opt_string(L, 1, "proxy");
  lua_getfield(L, 1, "proxy_from_env");
  o.proxy_from_env = lua_toboolean(L, -1);
  lua_pop(L, 1);
  if (o.proxy && o.proxy_from_env)
    result_argerror(L, WHERE, "proxy_from_env", "and option 'proxy' exclude each other: give one");

  engine_ud *u = lua_newuserdata(L, sizeof *u); /* userdata first, then the resource */
  u->engine = NULL;
  luaL_setmetatable(L, HTTP_MT);
  char err[256];
  u->engine = http_engine_new(&o, err, sizeof err);
  if (!u->engine) return luaL_error(L, WHERE ": %s", err);
  return 1;
}

/* engine:close(), __close and __gc: ends every transfer; again does nothing. */
static int http_lua_close(lua_State *L) {
  engine_ud *u = result_checkudata(L, 1, HTTP_MT, METHOD("close"), NULL);
  http_engine_free(u->engine);
  u->engine = NULL;
  return 0;
}

/* header_list's reason when memory ran out, told apart from the caller's mistakes by
 * its address. */
static const char OUT_OF_MEMORY[] = "out of memory";

/* Builds "Name: value" lines from the headers table at index t; else NULL, with *bad what
 * is wrong with the headers (the end of "option 'headers' ...") or OUT_OF_MEMORY. A value
 * may be a cloud.core.secret (a security token): its bytes go from C memory to the list,
 * and the list is wiped when freed (http_slist_wipe). */
static struct curl_slist *header_list(lua_State *L, int t, const char **bad) {
  struct curl_slist *list = NULL;
  char line[8192];
  *bad = NULL;
  lua_pushnil(L);
  while (lua_next(L, t)) {
    cstr name, value;
    int secret = 0;
    if (lua_type(L, -2) != LUA_TSTRING ||
        (lua_type(L, -1) != LUA_TSTRING && !(secret = secret_peek(L, -1, &value)))) {
      *bad = "must map names to strings (or secrets)";
    } else {
      name.p = lua_tolstring(L, -2, &name.n);
      if (!secret) value.p = lua_tolstring(L, -1, &value.n);
      if (!canon_is_token(name) || !canon_is_field_value(value)) *bad = "holds a malformed header";
      else if (name.n + value.n + 3 > sizeof line) *bad = "holds a header too long";
    }
    struct curl_slist *next = NULL;
    if (!*bad) {
      snprintf(line, sizeof line, "%.*s: %.*s", (int)name.n, name.p, (int)value.n, value.p);
      next = curl_slist_append(list, line);
      if (secret) OPENSSL_cleanse(line, sizeof line);
      if (!next) *bad = OUT_OF_MEMORY;
    }
    if (*bad) {
      lua_pop(L, 2);
      http_slist_wipe(list);
      return NULL;
    }
    list = next;
    lua_pop(L, 1);
  }
  /* No 100-continue round trip: the gateway answers large bodies directly. */
  struct curl_slist *next = curl_slist_append(list, "Expect:");
  if (!next) {
    http_slist_wipe(list);
    *bad = OUT_OF_MEMORY;
    return NULL;
  }
  return next;
}

/* engine:add(id, method, url, headers, body, fresh, raw): body, a string or a
 * cloud.core.body; raw, a 2xx answer's body comes back as a cloud.core.body, not a string */
static int http_lua_add(lua_State *L) {
  engine_ud *u = check_open(L, METHOD("add"));
  long long id = result_checkwhole(L, 2, METHOD("add"), "id");
  const char *method = result_checkstring(L, 3, METHOD("add"), "method", NULL);
  const char *url = result_checkstring(L, 4, METHOD("add"), "url", NULL);
  result_checktable(L, 5, METHOD("add"), "headers");
  size_t body_len = 0;
  const char *body = NULL;
  if (!lua_isnoneornil(L, 6) && !(body = body_lua_bytes(L, 6, &body_len)))
    return result_argerror(L, METHOD("add"), "body", "must be a string or cloud.core.body, not %s",
                           result_typename(L, 6));
  int fresh = lua_toboolean(L, 7);
  int raw = lua_toboolean(L, 8);
  if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
    return result_argerror(L, METHOD("add"), "url", "must start with http:// or https://");
  const char *bad;
  struct curl_slist *headers = header_list(L, 5, &bad);
  if (!headers && bad == OUT_OF_MEMORY) return luaL_error(L, METHOD("add") ": out of memory");
  if (!headers) return result_argerror(L, METHOD("add"), "headers", "%s", bad);
  if (http_engine_add(u->engine, id, method, url, headers, body, body_len, fresh, raw) != 0)
    return luaL_error(L, METHOD("add") ": out of memory");
  return 0;
}

static void set_string(lua_State *L, const char *field, const char *value) {
  if (!value[0]) return;
  lua_pushstring(L, value);
  lua_setfield(L, -2, field);
}

static void push_response(lua_State *L, http_response *r) {
  lua_createtable(L, 0, 13);
  lua_pushnumber(L, (lua_Number)r->id);
  lua_setfield(L, -2, "id");
  lua_pushinteger(L, (lua_Integer)r->status);
  lua_setfield(L, -2, "status");
  lua_pushboolean(L, r->sent);
  lua_setfield(L, -2, "sent");
  lua_pushnumber(L, r->elapsed);
  lua_setfield(L, -2, "elapsed");
  if (r->error != HTTP_OK) {
    lua_pushstring(L, http_error_name(r->error));
    lua_setfield(L, -2, "error");
    set_string(L, "message", r->message);
    set_string(L, "peer", r->peer);
    if (r->proxy_status) {
      lua_pushinteger(L, (lua_Integer)r->proxy_status);
      lua_setfield(L, -2, "proxy_status");
    }
    if (r->proxy_unresolved) {
      lua_pushboolean(L, 1);
      lua_setfield(L, -2, "proxy_unresolved");
    }
  }
  set_string(L, "request_id", r->request_id);
  set_string(L, "retry_after", r->retry_after);
  set_string(L, "date", r->date);
  /* The body last: once moved out of r, nothing after it may raise and leave r queued
   * without it (the table was made with room for every field). */
  if (r->raw && r->error == HTTP_OK && r->status >= 200 && r->status < 300)
    body_lua_push(L, &r->body); /* job answers: not copied into a Lua string */
  else
    lua_pushlstring(L, r->body.len ? r->body.data : "", r->body.len);
  lua_setfield(L, -2, "body");
}

/* engine:run(timeout_seconds) -> array of finished responses, or nil when none finished
 * (no table is made for nothing: the loop calling this runs often) */
static int http_lua_run(lua_State *L) {
  engine_ud *u = check_open(L, METHOD("run"));
  if (!lua_isnoneornil(L, 2) && lua_type(L, 2) != LUA_TNUMBER)
    return result_argerror(L, METHOD("run"), "timeout", "must be a number of seconds, not %s",
                           result_typename(L, 2));
  double timeout = (double)lua_tonumber(L, 2), ms = timeout * 1000.0 + 0.5;
  if (!(timeout <= 0) && !number_fits_long(ms)) /* NaN too; at most 0 is no wait */
    return result_argerror(L, METHOD("run"), "timeout", "must be a number of seconds, not NaN or too large");
  size_t ndone = http_engine_run(u->engine, timeout > 0 ? (long)ms : 0);
  if (ndone == 0) return 0;
  lua_createtable(L, ndone > 64 ? 64 : (int)ndone, 0);
  int i = 0;
  http_response *r;
  while ((r = http_engine_next(u->engine))) {
    push_response(L, r); /* may raise: r stays queued and is freed with the engine */
    lua_rawseti(L, -2, ++i);
    http_engine_release(u->engine, r);
  }
  return 1;
}

/* engine:pending() -> active, queued */
static int http_lua_pending(lua_State *L) {
  engine_ud *u = check_open(L, METHOD("pending"));
  lua_pushinteger(L, (lua_Integer)http_engine_active(u->engine));
  lua_pushinteger(L, (lua_Integer)http_engine_queued(u->engine));
  return 2;
}

/* For engine:drop_queued(ids): the set of ids at `set`, and the array of those dropped at
 * `out` (both stack indices). Neither callback can raise: a raw get of a number allocates
 * nothing, and `out` was made with room for every queued request before the walk began. */
typedef struct {
  lua_State *L;
  int set, out;
  lua_Integer n;
} drop_pick;

static int pick_all(long long id, void *ud) {
  (void)id;
  (void)ud;
  return 1;
}

static int pick_in_set(long long id, void *ud) {
  drop_pick *p = ud;
  lua_pushnumber(p->L, (lua_Number)id);
  lua_rawget(p->L, p->set);
  int yes = lua_toboolean(p->L, -1);
  lua_pop(p->L, 1);
  return yes;
}

static void note_dropped(long long id, void *ud) {
  drop_pick *p = ud;
  lua_pushnumber(p->L, (lua_Number)id);
  lua_rawseti(p->L, p->out, (int)++p->n);
}

/* engine:drop_queued([ids]) -> n, dropped: the requests not yet started (all, or with
 * `ids`, a table whose keys are request ids, those of `ids`) are dropped, never to be sent
 * (an abandoned operation must send nothing more; on an engine shared by several
 * operations, each drops only its own; at a deadline, the caller takes back the calls of
 * the dropped ids). `dropped` is the array of their ids. */
static int http_lua_drop_queued(lua_State *L) {
  engine_ud *u = check_open(L, METHOD("drop_queued"));
  int some = !lua_isnoneornil(L, 2);
  if (some) result_checktable(L, 2, METHOD("drop_queued"), "ids");
  lua_settop(L, 2);
  size_t queued = http_engine_queued(u->engine);
  /* index 3: the ids dropped, with room for all (no growth, so no raise, during the walk) */
  lua_createtable(L, queued > INT_MAX ? INT_MAX : (int)queued, 0);
  drop_pick p = {L, 2, 3, 0};
  http_engine_drop_queued_if(u->engine, some ? pick_in_set : pick_all, note_dropped, &p);
  lua_pushinteger(L, p.n);
  lua_insert(L, 3);
  return 2;
}

static int http_lua_tostring(lua_State *L) {
  engine_ud *u = result_checkudata(L, 1, HTTP_MT, METHOD("__tostring"), NULL);
  if (!u->engine) {
    lua_pushliteral(L, "cloud.core.http (closed)");
  } else {
    lua_pushfstring(L, "cloud.core.http (%d active, %d queued)",
                    (int)http_engine_active(u->engine), (int)http_engine_queued(u->engine));
  }
  return 1;
}

void http_lua_register(lua_State *L, int core) {
  static const luaL_Reg methods[] = {{"add", http_lua_add},         {"run", http_lua_run},
                                     {"pending", http_lua_pending}, {"drop_queued", http_lua_drop_queued},
                                     {"close", http_lua_close},     {NULL, NULL}};
  static const luaL_Reg meta[] = {{"__gc", http_lua_close}, {"__close", http_lua_close},
                                  {"__tostring", http_lua_tostring}, {NULL, NULL}};
  static const luaL_Reg funcs[] = {{"http", http_lua_http}, {NULL, NULL}};
  class_metatable(L, HTTP_MT, meta, methods);
  lua_pop(L, 1);
  class_functions(L, core, funcs);
}
