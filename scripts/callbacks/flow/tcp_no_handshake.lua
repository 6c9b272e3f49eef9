--
-- tcp_no_handshake: TCP flows whose 3-way handshake was not seen: no SYN from the client,
-- or a server that answered without SYN-ACK (and without RST). With local packet capture this
-- shows where the capture point misses traffic (asymmetric routing, a mirror port that drops
-- one direction, connections already open when capture started, idle connections split by
-- the idle timeout). Flows from remote probes are left alone (packet_interface_only): the
-- probe's own capture point is not the collector's to judge. Checked on periodicUpdate and
-- at flowEnd, once the flow has `min_packets` packets; raised once per flow. Disabled by
-- default: it is a capture diagnostic, noisy right after start.
--
-- Configuration (<data-dir>/scripts_config.json):
--   {"flow": {"tcp_no_handshake": {"enabled": true, "value": {"min_packets": 5}}}}
--
local user_scripts = require "user_scripts"

local STATUS = "tcp_no_handshake"
local FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10

local script = {
   category = user_scripts.script_categories.network,
   packet_interface_only = true,
   l4_proto = "tcp",
   default_enabled = false,
   default_value = { min_packets = 3 },
   gui = {
      i18n_title = "TCP Flows Without Handshake",
      i18n_description = "TCP flows whose 3-way handshake was not captured (local capture only)",
      input_builder = user_scripts.flow_checkbox_input_builder,
   },
   hooks = {},
}

local function flags_text(f)
   local t = {}
   if f & SYN ~= 0 then t[#t + 1] = "SYN" end
   if f & ACK ~= 0 then t[#t + 1] = "ACK" end
   if f & PSH ~= 0 then t[#t + 1] = "PSH" end
   if f & FIN ~= 0 then t[#t + 1] = "FIN" end
   if f & RST ~= 0 then t[#t + 1] = "RST" end
   return #t > 0 and table.concat(t, ",") or "none"
end

-- Flows that raised the status (interface id -> flow id -> true) until their flowEnd.
local raised = {}

local function check(config, ending)
   local cp, sp = flow.getClientToServerPackets(), flow.getServerToClientPackets()
   if cp + sp < (tonumber(config.min_packets) or 3) then return end
   local ifid, fid = flow.getInterfaceId(), flow.getFlowId()
   local done = raised[ifid]
   if done and done[fid] then
      if ending then done[fid] = nil end
      return
   end
   local cf, sf = flow.getTcpFlags()
   local reason
   if cp > 0 and cf & SYN == 0 then
      reason = "no SYN from the client"
   elseif sp > 0 and sf & SYN == 0 and sf & RST == 0 then
      reason = "no SYN-ACK from the server"
   else
      return
   end
   if not ending then
      if not done then
         done = {}
         raised[ifid] = done
      end
      done[fid] = true
   end
   flow.triggerStatus(STATUS, {
      message = string.format("TCP flow %s:%d -> %s:%d without 3-way handshake: %s "
                              .. "(client flags %s, server flags %s; %d/%d packets)",
                              flow.getClientIp(), flow.getClientPort(), flow.getServerIp(),
                              flow.getServerPort(), reason, flags_text(cf), flags_text(sf), cp,
                              sp),
      reason = reason,
      cli2srv_tcp_flags = cf,
      srv2cli_tcp_flags = sf,
      cli2srv_packets = cp,
      srv2cli_packets = sp,
   }, 10, 5, 5)
end

function script.hooks.periodicUpdate(now, config)
   check(config, false)
end

function script.hooks.flowEnd(now, config)
   check(config, true)
end

return script
