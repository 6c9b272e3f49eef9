--
-- sshd.lua: OpenSSH authentication failures (app name "sshd"). Failures are counted per
-- source address over a sliding minute; crossing the threshold raises one alert per address
-- per minute. default_value: "sshd;gt;5" (more than 5 failures a minute).
--
local alerts_api = require "alerts_api"
local user_scripts = require "user_scripts"

local sshd = {
   gui = {
      i18n_title = "SSH authentication failures",
      i18n_description = "Counts failed SSH logins per source address and raises an alert on "
         .. "a likely brute-force",
   },
   default_value = "sshd;gt;5",
   hooks = {},
}

local WINDOW = 60
local MAX_TRACKED = 10000 -- addresses remembered at once

local failures = {}   -- addr -> { times = {...}, alerted_at = t }
local tracked = 0

-- The address of a failure line, or nil.
local patterns = {
   "^Failed %S+ for invalid user .- from (%S+) port %d+",
   "^Failed %S+ for .- from (%S+) port %d+",
   "^Invalid user .- from (%S+) port %d+",
   "^Invalid user .- from (%S+)$",
   "authentication failure;.* rhost=(%S+)",
   "^Connection closed by authenticating user .- (%S+) port %d+ %[preauth%]",
   "^Disconnecting authenticating user .- (%S+) port %d+: Too many authentication failures",
}

local function failure_addr(message)
   for _, p in ipairs(patterns) do
      local addr = message:match(p)
      if addr then return addr end
   end
   return nil
end

function sshd.hooks.handleEvent(message, host, priority, header, config)
   local addr = failure_addr(message)
   if not addr then return end
   local now = (type(header) == "table" and tonumber(header.time)) or os.time()
   if now == 0 then now = os.time() end
   local e = failures[addr]
   if not e then
      if tracked >= MAX_TRACKED then
         failures, tracked = {}, 0 -- start over rather than grow without bound
      end
      e = { times = {} }
      failures[addr] = e
      tracked = tracked + 1
   end
   -- keep the failures of the last minute
   local kept = {}
   for _, t in ipairs(e.times) do
      if now - t < WINDOW then kept[#kept + 1] = t end
   end
   kept[#kept + 1] = now
   e.times = kept
   if user_scripts.threshold_cross(config, #kept)
      and (not e.alerted_at or now - e.alerted_at >= WINDOW) then
      e.alerted_at = now
      alerts_api.store(alerts_api.hostAlertEntity(addr), {
         alert_type = "ssh_bruteforce",
         score = 80,
         message = string.format("%d failed SSH logins from %s to %s within %d s",
            #kept, addr, tostring(host), WINDOW),
         json = { attacker = addr, target = host, failures = #kept, window_s = WINDOW },
      })
   end
end

return sshd
