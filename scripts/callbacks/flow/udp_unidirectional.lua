--
-- udp_unidirectional: UDP flows that ended with packets in one direction only (ntopng's
-- "Unidirectional UDP Flow"): unanswered queries, dead services, blocked or asymmetric
-- return paths, scans. Checked at flowEnd.
--
-- Not reported: flows to broadcast or multicast addresses (255.255.255.255, the broadcast
-- address of each IPv4 --local-networks network, 224.0.0.0/4, ff00::/8), and protocols that
-- are one-way by design (`ignored_protocols`, nDPI names). Configuration
-- (<data-dir>/scripts_config.json), e.g. only flows of 3 packets or more:
--   {"flow": {"udp_unidirectional": {"value": {"min_packets": 3}}}}
--
local user_scripts = require "user_scripts"

local STATUS = "udp_unidirectional"

local script = {
   category = user_scripts.script_categories.network,
   l4_proto = "udp",
   default_enabled = true,
   default_value = {
      min_packets = 1,
      ignored_protocols = { "Syslog", "NetFlow", "sFlow", "IPFIX" },
   },
   gui = {
      i18n_title = "Unidirectional UDP Flows",
      i18n_description = "UDP flows with traffic in one direction only (no reply)",
      input_builder = user_scripts.flow_checkbox_input_builder,
   },
   hooks = {},
}

-- Directed broadcast addresses of the IPv4 local networks (text -> true).
local local_broadcasts = {}

function script.setup()
   local nets = ntop.getLocalNetworks() or {}
   for _, net in ipairs(nets) do
      local a, b, c, d, len = net:match("^(%d+)%.(%d+)%.(%d+)%.(%d+)/(%d+)$")
      len = tonumber(len)
      if a and len and len <= 30 then
         local ip = (tonumber(a) << 24) | (tonumber(b) << 16) | (tonumber(c) << 8) | tonumber(d)
         local host_bits = (1 << (32 - len)) - 1
         local bc = (ip | host_bits) & 0xffffffff
         local_broadcasts[string.format("%d.%d.%d.%d", bc >> 24, (bc >> 16) & 255,
                                        (bc >> 8) & 255, bc & 255)] = true
      end
   end
   return true
end

local function is_broadcast_or_multicast(ip)
   if ip == "255.255.255.255" or local_broadcasts[ip] then return true end
   local a = ip:match("^(%d+)%.")
   if a then
      a = tonumber(a)
      return a >= 224 and a <= 239
   end
   return ip:find("^[fF][fF]%x%x:") ~= nil
end

-- config.ignored_protocols as a set of lower-case names, once per configuration table.
local ignored_cache = setmetatable({}, { __mode = "k" })
local function ignored_set(config)
   local set = ignored_cache[config]
   if not set then
      set = {}
      local list = config.ignored_protocols
      if type(list) == "string" then
         for name in list:gmatch("[^,%s]+") do set[name:lower()] = true end
      elseif type(list) == "table" then
         for _, name in ipairs(list) do set[tostring(name):lower()] = true end
      end
      ignored_cache[config] = set
   end
   return set
end

function script.hooks.flowEnd(now, config)
   local cp, sp = flow.getClientToServerPackets(), flow.getServerToClientPackets()
   if (cp > 0 and sp > 0) or cp + sp < (tonumber(config.min_packets) or 1) then return end
   local src, dst, sport, dport = flow.getClientIp(), flow.getServerIp(), flow.getClientPort(),
                                  flow.getServerPort()
   if cp == 0 then -- only the server sent (flows normally start with the client)
      src, dst, sport, dport = dst, src, dport, sport
   end
   if not src or not dst or is_broadcast_or_multicast(dst) then return end
   local ignored = ignored_set(config)
   local master, app = flow.getL7MasterProtoName(), flow.getL7AppProtoName()
   if (master and ignored[master:lower()]) or (app and ignored[app:lower()]) then return end
   local packets, bytes = cp + sp, flow.getTotalBytes()
   flow.triggerStatus(STATUS, {
      message = string.format("Unidirectional UDP flow %s:%d -> %s:%d %s: %d packets "
                              .. "(%d bytes), no reply", src, sport, dst, dport,
                              flow.getL7ProtoName() or "", packets, bytes),
      src_ip = src,
      dst_ip = dst,
      src_port = sport,
      dst_port = dport,
      packets = packets,
      bytes = bytes,
      l7_proto = flow.getL7ProtoName(),
   }, 10, 5, 5)
end

return script
