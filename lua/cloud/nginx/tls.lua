--- The TLS handshake inside nginx, deciding as the curl transport does: the chain is
-- checked against nginx's trust store (`lua_ssl_trusted_certificate`), a host name by
-- nginx, an IP address here (nginx checks DNS names only, so an IP endpoint would fail
-- with a certificate made for it, or pass on a subject CN). A failure comes back with the
-- hint that fits what failed, told by OpenSSL's verification code, not by wording.
-- @module cloud.nginx.tls
local M = {}

-- X.509 verification results that mean "no trusted issuer": the trust store is the fix.
-- (2 no issuer certificate, 18 self-signed, 19 self-signed CA in chain, 20 no local
-- issuer, 21 cannot verify the first certificate, 27 certificate not trusted.)
local UNTRUSTED = { [2] = true, [18] = true, [19] = true, [20] = true, [21] = true, [27] = true }

local TRUST_HINT = " (its issuer is not trusted: put the CA into lua_ssl_trusted_certificate in nginx.conf;"
  .. " see docs/openresty.md)"

--- Whether `host` (as parse_url returns it, without brackets) is an IP address.
function M.is_ip(host)
  return host:match("^%d+%.%d+%.%d+%.%d+$") ~= nil or host:find(":", 1, true) ~= nil
end

-- OpenSSL through LuaJIT's FFI (nginx links it), declared on first use: nothing happens
-- at require time, and Lua 5.4 (no FFI) can still load this file. Declarations another
-- module already made are fine: pointers convert.
local openssl
local function ssl_functions()
  if openssl == nil then
    openssl = false
    local ok, ffi = pcall(require, "ffi")
    if ok then
      pcall(ffi.cdef, "void *SSL_SESSION_get0_peer(void *session);")
      pcall(ffi.cdef, "int X509_check_ip_asc(void *cert, const char *address, unsigned int flags);")
      local found = pcall(function() return ffi.C.SSL_SESSION_get0_peer, ffi.C.X509_check_ip_asc end)
      if found then openssl = ffi.C end
    end
  end
  return openssl
end

-- Whether the session's certificate has `ip` among its subjectAltName IP entries (what
-- curl requires); nil and why when that cannot be told, which fails the handshake.
local function certificate_has_ip(session, ip)
  local C = ssl_functions()
  if not C then return nil, "cannot check a certificate for an IP address here (no FFI access to OpenSSL)" end
  if type(session) ~= "cdata" or session == nil then return nil, "nginx gave no TLS session to check" end
  local cert = C.SSL_SESSION_get0_peer(session)
  if cert == nil then return nil, "the server sent no certificate" end
  return C.X509_check_ip_asc(cert, ip, 0) == 1
end

-- lua-nginx-module 0.10.23 reports a handshake that completed at once (the peer's answer
-- was already there) as a success even when the verification after it failed and closed
-- the socket; resty.core then trips over an assertion. The reason is still kept with the
-- socket: read it the way resty.core does (nil when that is not possible).
local function unreported_failure(sock)
  local ok, reason = pcall(function()
    local ffi, base = require "ffi", require "resty.core.base"
    local errmsg, code, session = ffi.new("char *[1]"), ffi.new("int[1]"), ffi.new("void *[1]")
    local rc = ffi.C.ngx_http_lua_ffi_socket_tcp_get_sslhandshake_result(base.get_request(), sock[1],
      session, errmsg, code)
    if rc ~= base.FFI_ERROR or errmsg[0] == nil then return nil end
    local text = ffi.string(errmsg[0])
    return code[0] ~= 0 and (code[0] .. ": " .. text) or text
  end)
  return ok and reason or nil
end

--- TLS over the connected socket `sock` to `host`. Returns nil on success, or the
-- transport's error kind ("timeout" or "tls") and a message (with its hint).
function M.handshake(sock, host, authority, verify)
  local ip = M.is_ip(host)
  -- No SNI for an IP address (RFC 6066 allows host names only), and then no name check by
  -- nginx either: the IP is checked below. The session comes back for that check.
  local called, session, err = pcall(sock.sslhandshake, sock, nil, (not ip) and host or nil, verify)
  -- A closed socket after a "success": see unreported_failure.
  if not called or (session and not sock:getreusedtimes()) then
    local raised = not called and tostring(session)
    session = nil
    err = unreported_failure(sock) or (raised and ("handshake failed: " .. raised))
      or "certificate verification failed (see nginx's error log)"
  end
  if not session then
    if err == "timeout" then return "timeout", "TLS handshake with " .. authority .. " timed out" end
    local hint = ""
    local code = tonumber(tostring(err):match("^(%d+): "))
    if verify and code and UNTRUSTED[code] then
      hint = TRUST_HINT
    elseif verify and err == "certificate host mismatch" then
      hint = " (the certificate is for another host name: check the endpoint)"
    end
    return "tls", ("TLS handshake with %s: %s%s"):format(authority, tostring(err), hint)
  end
  if verify and ip then
    local match, why = certificate_has_ip(session, host)
    if not match then
      return "tls", ("TLS handshake with %s: %s"):format(authority,
        why or ("certificate IP address mismatch (the certificate is not for " .. host .. ": check the endpoint)"))
    end
  end
  return nil
end

return M
