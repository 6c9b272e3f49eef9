--
-- long_lived: flows that last longer than a threshold (ntopng's "Long-Lived Flow"), one hour
-- by default. The duration is the flow's first to last packet (packet time). Checked on
-- every periodicUpdate and at flowEnd; raised once per flow.
--
-- Configuration (<data-dir>/scripts_config.json), e.g. 10 minutes:
--   {"flow": {"long_lived": {"value": "long_lived;gt;600"}}}
--
local user_scripts = require "user_scripts"
require "lua_utils"

local STATUS = "long_lived"

local script = {
   category = user_scripts.script_categories.network,
   default_enabled = true,
   default_value = "long_lived;gt;3600",
   gui = {
      i18n_title = "Long-Lived Flows",
      i18n_description = "Flows that last longer than a threshold",
      input_builder = user_scripts.threshold_cross_input_builder,
      field_min = 1,
      field_operator = "gt",
      i18n_field_unit = user_scripts.field_units.seconds,
   },
   hooks = {},
}

-- Flows that raised the status (interface id -> flow id -> true) until their flowEnd.
local raised = {}

local function check(config, ending)
   local ifid, fid = flow.getInterfaceId(), flow.getFlowId()
   local done = raised[ifid]
   if done and done[fid] then
      if ending then done[fid] = nil end
      return
   end
   local duration = flow.getDuration()
   if not user_scripts.threshold_cross(config, duration) then return end
   if not ending then
      if not done then
         done = {}
         raised[ifid] = done
      end
      done[fid] = true
   end
   flow.triggerStatus(STATUS, {
      message = string.format("Long-lived flow %s:%d -> %s:%d %s: %s (threshold %s)",
                              flow.getClientIp(), flow.getClientPort(), flow.getServerIp(),
                              flow.getServerPort(), flow.getL7ProtoName() or "",
                              secondsToTime(duration), secondsToTime(config.threshold)),
      duration = duration,
      first_seen = flow.getFirstSeen(),
      last_seen = flow.getLastSeen(),
      threshold = config.threshold,
   }, 10, 5, 5)
end

function script.hooks.periodicUpdate(now, config)
   check(config, false)
end

function script.hooks.flowEnd(now, config)
   check(config, true)
end

return script
