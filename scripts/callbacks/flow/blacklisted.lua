--
-- blacklisted: flows whose client or server address is in the configured blacklist
-- (addresses and CIDR networks, IPv4 and IPv6; ntopng's "Blacklisted Flow").
--
-- The list is the script's configuration, replaced in <data-dir>/scripts_config.json:
--   {"flow": {"blacklisted": {"value": {"items": ["203.0.113.7", "198.51.100.0/24",
--                                                 "2001:db8:bad::/48"]}}}}
-- The default list holds only the documentation networks (RFC 5737, RFC 3849), which never
-- appear on a real network: it shows how entries look and lets tests exercise the script.
-- The check runs once per flow, as soon as nDPI is done (protocolDetected), or in
-- periodicUpdate/flowEnd for flows without L7.
--
local user_scripts = require "user_scripts"

local STATUS = "blacklisted"

local script = {
   category = user_scripts.script_categories.security,
   default_enabled = true,
   default_value = {
      items = { "192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32" },
   },
   gui = {
      i18n_title = "Blacklisted Flows",
      i18n_description = "Flows from or to an address of the blacklist (addresses and networks)",
      input_builder = user_scripts.items_list_input_builder,
      item_list_type = "ip_address",
      input_title = "Blacklist",
      input_description = "Blacklisted addresses or networks (CIDR), IPv4 and IPv6",
   },
   hooks = {},
}

local ip_set = require "ip_set"

-- Flows that raised the status (interface id -> flow id -> true) until their flowEnd.
local raised = {}

local function check(config, ending)
   local ifid, fid = flow.getInterfaceId(), flow.getFlowId()
   local done = raised[ifid]
   if done and done[fid] then
      if ending then done[fid] = nil end
      return
   end
   local list = ip_set.of_config(config)
   if list.n == 0 then return end
   local cli, srv = flow.getClientIp(), flow.getServerIp()
   local cli_hit, srv_hit = ip_set.match(list, cli), ip_set.match(list, srv)
   if not cli_hit and not srv_hit then return end
   if not ending then
      if not done then
         done = {}
         raised[ifid] = done
      end
      done[fid] = true
   end
   local what
   if cli_hit and srv_hit then
      what = string.format("client %s (%s) and server %s (%s) are blacklisted", cli, cli_hit,
                           srv, srv_hit)
   elseif cli_hit then
      what = string.format("client %s is blacklisted (%s)", cli, cli_hit)
   else
      what = string.format("server %s is blacklisted (%s)", srv, srv_hit)
   end
   -- as ntopng scores it: the peer of a blacklisted host gets the high host score
   local cli_score, srv_score = 5, 5
   if srv_hit then cli_score = 100 end
   if cli_hit then srv_score = 100 end
   flow.triggerStatus(STATUS, {
      message = string.format("Blacklisted flow %s:%d -> %s:%d: %s", cli, flow.getClientPort(),
                              srv, flow.getServerPort(), what),
      cli_ip = cli,
      srv_ip = srv,
      cli_blacklisted = cli_hit ~= nil,
      srv_blacklisted = srv_hit ~= nil,
      cli_match = cli_hit,
      srv_match = srv_hit,
      l7_proto = flow.getL7ProtoName(),
   }, 100, cli_score, srv_score)
end

local function l7_unknown()
   local n = flow.getL7ProtoName()
   return n == nil or n == ""
end

function script.hooks.protocolDetected(now, config)
   check(config, false)
end

-- The engine runs protocolDetected before these whenever the L7 name is known: only flows
-- without L7 still need the check here.
function script.hooks.periodicUpdate(now, config)
   if l7_unknown() then check(config, false) end
end

function script.hooks.flowEnd(now, config)
   if l7_unknown() then
      check(config, true)
   else
      local done = raised[flow.getInterfaceId()]
      if done then done[flow.getFlowId()] = nil end
   end
end

return script
