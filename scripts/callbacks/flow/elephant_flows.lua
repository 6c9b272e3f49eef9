--
-- elephant_flows: flows whose total traffic (both directions, IP bytes) crosses a threshold
-- (ntopng's "Elephant Flow"), 1 GiB by default. Checked on every periodicUpdate and at
-- flowEnd; raised once per flow.
--
-- Configuration (<data-dir>/scripts_config.json), e.g. 100 MiB:
--   {"flow": {"elephant_flows": {"value": "elephant_flows;gt;104857600"}}}
--
local user_scripts = require "user_scripts"
require "lua_utils"

local STATUS = "elephant_flow"

local script = {
   category = user_scripts.script_categories.network,
   default_enabled = true,
   default_value = "elephant_flows;gt;1073741824",
   gui = {
      i18n_title = "Elephant Flows",
      i18n_description = "Flows whose traffic (bytes in both directions) exceeds a threshold",
      input_builder = user_scripts.threshold_cross_input_builder,
      field_min = 1,
      field_operator = "gt",
      i18n_field_unit = user_scripts.field_units.bytes,
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
   local bytes = flow.getTotalBytes()
   if not user_scripts.threshold_cross(config, bytes) then return end
   if not ending then
      if not done then
         done = {}
         raised[ifid] = done
      end
      done[fid] = true
   end
   local c2s, s2c = flow.getClientToServerBytes(), flow.getServerToClientBytes()
   flow.triggerStatus(STATUS, {
      message = string.format("Elephant flow %s:%d -> %s:%d %s: %s (client->server %s, "
                              .. "server->client %s; threshold %s)", flow.getClientIp(),
                              flow.getClientPort(), flow.getServerIp(), flow.getServerPort(),
                              flow.getL7ProtoName() or "", bytesToSize(bytes), bytesToSize(c2s),
                              bytesToSize(s2c), bytesToSize(config.threshold)),
      bytes = bytes,
      cli2srv_bytes = c2s,
      srv2cli_bytes = s2c,
      threshold = config.threshold,
   }, 20, 10, 10)
end

function script.hooks.periodicUpdate(now, config)
   check(config, false)
end

function script.hooks.flowEnd(now, config)
   check(config, true)
end

return script
