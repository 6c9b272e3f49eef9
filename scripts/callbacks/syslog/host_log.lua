--
-- host_log.lua: any host's syslog; a message at or above a severity raises an alert on that
-- host. Map senders to it with --syslog-map SENDER=host_log (SENDER: address or hostname).
-- default_value: the syslog severity threshold, "host_log;le;3" = error or worse
-- (0 emergency .. 7 debug).
--
local alerts_api = require "alerts_api"
local user_scripts = require "user_scripts"

local host_log = {
   gui = {
      i18n_title = "Host log severity",
      i18n_description = "Raises an alert for every syslog message of a mapped host at or above "
         .. "the configured severity",
   },
   default_value = "host_log;le;3",
   hooks = {},
}

local names = { [0] = "emergency", "alert", "critical", "error", "warning", "notice", "info",
   "debug" }
-- syslog severity -> zflow severity (1 debug .. 7 emergency)
local zsev = { [0] = 7, 7, 6, 5, 4, 3, 2, 1 }

function host_log.hooks.handleEvent(message, host, priority, header, config)
   local sev = type(header) == "table" and tonumber(header.severity) or nil
   if not sev or sev < 0 or sev > 7 then return end
   if not user_scripts.threshold_cross(config, sev) then return end
   local app = header.app_name or ""
   alerts_api.store(alerts_api.hostAlertEntity(host or "?"), {
      alert_type = "host_log",
      severity = zsev[sev],
      score = (7 - sev) * 15,
      message = string.format("%s %s: %s", names[sev], app, message:sub(1, 400)),
      json = { severity = names[sev], app = app, host = host, facility = header.facility },
   })
end

return host_log
