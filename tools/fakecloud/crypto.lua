-- SHA-256 and HMAC-SHA256, hex output. Uses LuaJIT FFI into libcrypto when it can
-- (inside nginx, and under luajit); plain Lua 5.4 falls back to the openssl CLI.
local M = {}

local function tohex(s)
  return (s:gsub(".", function(c) return string.format("%02x", c:byte()) end))
end
M.tohex = tohex

local ok_ffi, ffi = pcall(require, "ffi")
local lib
if ok_ffi then
  pcall(ffi.cdef, [[
    typedef struct evp_md_st EVP_MD;
    const EVP_MD *EVP_sha256(void);
    unsigned char *SHA256(const unsigned char *d, size_t n, unsigned char *md);
    unsigned char *HMAC(const EVP_MD *evp_md, const void *key, int key_len,
                        const unsigned char *d, size_t n, unsigned char *md,
                        unsigned int *md_len);
  ]])
  for _, name in ipairs({ "crypto", "libcrypto.so.3", "libcrypto.so.1.1" }) do
    local ok, l = pcall(ffi.load, name)
    if ok then lib = l break end
  end
end

if lib then
  local buf = ffi.new("unsigned char[32]")
  local len = ffi.new("unsigned int[1]")
  local md = lib.EVP_sha256()
  function M.sha256_hex(data)
    lib.SHA256(data, #data, buf)
    return tohex(ffi.string(buf, 32))
  end
  function M.hmac_sha256_hex(key, data)
    lib.HMAC(md, key, #key, data, #data, buf, len)
    return tohex(ffi.string(buf, len[0]))
  end
  M.backend = "ffi"
else
  -- The data goes through a temp file so any bytes survive; the key is passed
  -- as hex so it never needs shell quoting.
  local function dgst(args, data)
    local path = os.tmpname()
    local f = assert(io.open(path, "wb"))
    f:write(data)
    f:close()
    local p = assert(io.popen("env -u LD_PRELOAD openssl dgst -sha256 " .. args .. " -r " .. path))
    local out = p:read("*a")
    p:close()
    os.remove(path)
    return (out:match("^(%x+)"))
  end
  -- Each call forks openssl, so repeated inputs (same request in the same second)
  -- are remembered; the cache is dropped when it grows.
  local cache, n = {}, 0
  local function memo(k, f)
    local v = cache[k]
    if v then return v end
    if n > 4096 then cache, n = {}, 0 end
    v = f()
    cache[k], n = v, n + 1
    return v
  end
  function M.sha256_hex(data)
    return memo("s\0" .. data, function() return dgst("", data) end)
  end
  function M.hmac_sha256_hex(key, data)
    return memo("h\0" .. key .. "\0" .. data, function()
      return dgst("-mac HMAC -macopt hexkey:" .. tohex(key), data)
    end)
  end
  M.backend = "openssl-cli"
end

return M
