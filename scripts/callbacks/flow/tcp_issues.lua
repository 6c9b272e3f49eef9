--
-- tcp_issues: TCP flows with many retransmissions (ntopng's "TCP Issues"): in either
-- direction, retransmitted packets / packets, in percent, crosses the threshold, once that
-- direction has carried at least `min_packets` packets. Checked on every periodicUpdate and
-- at flowEnd; raised once per flow.
--
-- Configuration (<data-dir>/scripts_config.json), e.g. 5 % and at least 20 packets:
--   {"flow": {"tcp_issues": {"value": {"operator": "gt", "threshold": 5, "min_packets": 20}}}}
-- or only the threshold: {"value": "tcp_issues;gt;5"}.
--
local user_scripts = require "user_scripts"

local STATUS = "tcp_issues"
local OP_TEXT = { gt = ">", lt = "<", ge = ">=", le = "<=", eq = "=", ne = "!=" }

local script = {
   category = user_scripts.script_categories.network,
   l4_proto = "tcp",
   default_enabled = true,
   default_value = { key = "tcp_issues", operator = "gt", threshold = 10, min_packets = 10 },
   gui = {
      i18n_title = "TCP Issues",
      i18n_description = "TCP flows whose retransmissions exceed a percentage of their packets",
      input_builder = user_scripts.threshold_cross_input_builder,
      field_min = 0,
      field_max = 100,
      field_operator = "gt",
      i18n_field_unit = user_scripts.field_units.percentage,
   },
   hooks = {},
}

-- Flows that raised the status (interface id -> flow id -> true) until their flowEnd.
local raised = {}

local function direction(config, min, packets, retrans)
   if packets < min or packets == 0 then return nil end
   local pct = retrans * 100.0 / packets
   if user_scripts.threshold_cross(config, pct) then return pct end
   return nil
end

local function check(config, ending)
   local ifid, fid = flow.getInterfaceId(), flow.getFlowId()
   local done = raised[ifid]
   if done and done[fid] then
      if ending then done[fid] = nil end
      return
   end
   local min = tonumber(config.min_packets) or 10
   local cp, sp = flow.getClientToServerPackets(), flow.getServerToClientPackets()
   if cp < min and sp < min then return end
   local cr, sr = flow.getRetransmissions()
   local cpct, spct = direction(config, min, cp, cr), direction(config, min, sp, sr)
   if not cpct and not spct then return end
   if not ending then
      if not done then
         done = {}
         raised[ifid] = done
      end
      done[fid] = true
   end
   local parts = {}
   if cpct then
      parts[#parts + 1] = string.format("client->server %d/%d packets retransmitted (%.1f%%)",
                                        cr, cp, cpct)
   end
   if spct then
      parts[#parts + 1] = string.format("server->client %d/%d packets retransmitted (%.1f%%)",
                                        sr, sp, spct)
   end
   local op = OP_TEXT[config.operator or "gt"] or tostring(config.operator)
   flow.triggerStatus(STATUS, {
      message = string.format("TCP issues %s:%d -> %s:%d: %s (threshold %s %s%%)",
                              flow.getClientIp(), flow.getClientPort(), flow.getServerIp(),
                              flow.getServerPort(), table.concat(parts, ", "), op,
                              tostring(config.threshold)),
      cli2srv_packets = cp,
      srv2cli_packets = sp,
      cli2srv_retransmissions = cr,
      srv2cli_retransmissions = sr,
      cli2srv_retransmission_pct = cpct,
      srv2cli_retransmission_pct = spct,
      threshold = config.threshold,
   }, 20, cpct and 20 or 5, spct and 20 or 5)
end

function script.hooks.periodicUpdate(now, config)
   check(config, false)
end

function script.hooks.flowEnd(now, config)
   check(config, true)
end

return script
