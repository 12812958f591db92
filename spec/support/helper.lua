-- Loaded by busted before every spec file (see .busted).
-- Aggressive GC makes every __gc path run during the suite (leak and use-after-free checks).
if os.getenv("CLOUD_GC_AGGRESSIVE") then
  collectgarbage("setpause", 0)
end
-- No spec's client may fall back to the metadata service at 169.254.169.254.
require("support.no_metadata").install()
