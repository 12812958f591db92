/* cloud.core.body: bytes owned by C memory, for the two big bodies of a stop. A request
 * body of 1000 ids is 40 KB and a job answer 300 KB; as Lua strings each would be copied
 * once more and then wait for the collector, and a million servers would leave hundreds
 * of megabytes of garbage. A body is closed (freed) by its user as soon as it is done
 * with; __gc is the safety net. core.stop_body and core.start_body build the os-stop and
 * os-start request bodies. */
#include <stdio.h>
#include <string.h>

#include "body_lua.h"
#include "bytescan.h"
#include "hex.h"
#include "class.h"
#include "compat.h"
#include "result.h"

#define BODY_MT "cloud.core.body"
/* The name of a method in its errors: METHOD("close") is "cloud.core.body:close". */
#define METHOD(name) BODY_MT ":" name

typedef struct {
  cbuf buf;
} body_ud;

/* body:close(), and __gc */
static int body_lua_close(lua_State *L) {
  body_ud *b = result_checkudata(L, 1, BODY_MT, METHOD("close"), NULL);
  cbuf_free(&b->buf);
  return 0;
}

/* body:wipe(): close() that overwrites the bytes first, for an answer that held secrets
 * (the metadata service's security key). */
static int body_lua_wipe(lua_State *L) {
  body_ud *b = result_checkudata(L, 1, BODY_MT, METHOD("wipe"), NULL);
  cbuf_wipe(&b->buf);
  return 0;
}

/* #body */
static int body_lua_len(lua_State *L) {
  body_ud *b = result_checkudata(L, 1, BODY_MT, METHOD("__len"), NULL);
  lua_pushinteger(L, (lua_Integer)b->buf.len);
  return 1;
}

/* body:string() -> the bytes as a Lua string (for what needs one: nginx, tests) */
static int body_lua_string(lua_State *L) {
  body_ud *b = result_checkudata(L, 1, BODY_MT, METHOD("string"), NULL);
  lua_pushlstring(L, b->buf.len ? b->buf.data : "", b->buf.len);
  return 1;
}

static body_ud *new_body(lua_State *L) {
  body_ud *b = lua_newuserdata(L, sizeof *b);
  cbuf_init(&b->buf);
  luaL_setmetatable(L, BODY_MT);
  return b;
}

void body_lua_push(lua_State *L, cbuf *from) {
  body_ud *b = new_body(L); /* may raise: *from is then still the caller's */
  b->buf = *from;           /* moved: the caller no longer owns it */
  cbuf_init(from);
}

const char *body_lua_bytes(lua_State *L, int i, size_t *len) {
  if (lua_type(L, i) == LUA_TSTRING) return lua_tolstring(L, i, len);
  body_ud *b = luaL_testudata(L, i, BODY_MT);
  if (!b) return NULL;
  *len = b->buf.len;
  return b->buf.len ? b->buf.data : "";
}

/* Whether any of the n bytes must be escaped in a JSON string: a control byte, a quote or
 * a backslash. */
static int needs_escape(const char *p, size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w = bytescan_load(p + i);
    if (bytescan_below(w, 0x20) | bytescan_equal(w, '"') | bytescan_equal(w, '\\')) return 1;
  }
  for (; i < n; i++) {
    unsigned char c = (unsigned char)p[i];
    if (c < 0x20 || c == '"' || c == '\\') return 1;
  }
  return 0;
}

/* An id as the inside of a JSON string: quotes, backslashes and control bytes escaped. */
static void add_json_chars(cbuf *b, const char *p, size_t n) {
  if (!needs_escape(p, n)) {
    cbuf_add(b, p, n);
    return;
  }
  size_t plain = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)p[i];
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    cbuf_add(b, p + plain, i - plain);
    plain = i + 1;
    if (c == '"' || c == '\\') {
      cbuf_addc(b, '\\');
      cbuf_addc(b, (char)c);
    } else {
      char u[6] = {'\\', 'u', '0', '0'};
      hex_byte(u + 4, c, HEX_LOWER);
      cbuf_add(b, u, sizeof u);
    }
  }
  cbuf_add(b, p + plain, n - plain);
}

/* An action body for the ids of the array at index 1: `head` (the action's key and, for a
 * stop, its type, as a JSON prefix up to the servers array), then
 * [{"id":...},...]}} -- the shape os-stop and os-start share. `where` names the function. */
static int servers_body(lua_State *L, const char *where, const char *head, const char *kind,
                        size_t kind_len) {
  result_checktable(L, 1, where, "ids");
  size_t n = lua_rawlen(L, 1);
  /* The userdata first: on any error below, its __gc frees what was built. */
  cbuf *b = &new_body(L)->buf;
  cbuf_reserve(b, 40 + kind_len + n * 48); /* UUIDs: 36 bytes and 11 of JSON each */
  cbuf_adds(b, head);
  if (kind) {
    add_json_chars(b, kind, kind_len);
    cbuf_adds(b, "\",\"servers\":[");
  }
  for (size_t i = 1; i <= n; i++) {
    lua_rawgeti(L, 1, (lua_Integer)i);
    if (lua_type(L, -1) != LUA_TSTRING) {
      char field[32];
      snprintf(field, sizeof field, "ids[%lu]", (unsigned long)i);
      return result_argerror(L, where, field, "is not a string"); /* the body's __gc frees it */
    }
    size_t len;
    const char *id = lua_tolstring(L, -1, &len);
    cbuf_adds(b, i > 1 ? ",{\"id\":\"" : "{\"id\":\"");
    add_json_chars(b, id, len);
    cbuf_adds(b, "\"}");
    lua_pop(L, 1);
  }
  cbuf_adds(b, "]}}");
  if (b->oom) return luaL_error(L, "%s: out of memory", where);
  return 1;
}

/* core.stop_body(ids, type) -> the body of an os-stop call for the array's ids, as a
 * cloud.core.body: {"os-stop":{"type":...,"servers":[{"id":...},...]}} */
static int body_lua_stop_body(lua_State *L) {
  result_checktable(L, 1, "cloud.core.stop_body", "ids");
  size_t kind_len;
  const char *kind = result_checkstring(L, 2, "cloud.core.stop_body", "type", &kind_len);
  return servers_body(L, "cloud.core.stop_body", "{\"os-stop\":{\"type\":\"", kind, kind_len);
}

/* core.start_body(ids) -> the body of an os-start call (no type, per the API reference):
 * {"os-start":{"servers":[{"id":...},...]}} */
static int body_lua_start_body(lua_State *L) {
  return servers_body(L, "cloud.core.start_body", "{\"os-start\":{\"servers\":[", NULL, 0);
}

void body_lua_register(lua_State *L, int core) {
  static const luaL_Reg meta[] = {{"__gc", body_lua_close}, {"__len", body_lua_len}, {NULL, NULL}};
  static const luaL_Reg methods[] = {{"close", body_lua_close}, {"string", body_lua_string},
                                     {"wipe", body_lua_wipe}, {NULL, NULL}};
  static const luaL_Reg funcs[] = {{"stop_body", body_lua_stop_body}, {"start_body", body_lua_start_body},
                                   {NULL, NULL}};
  class_metatable(L, BODY_MT, meta, methods);
  lua_pop(L, 1);
  class_functions(L, core, funcs);
}
