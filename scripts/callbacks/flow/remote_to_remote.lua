--
-- remote_to_remote: flows where neither the client nor the server is in --local-networks
-- (ntopng's "Remote client and remote server"): traffic that should not cross the monitored
-- link (a mirror port seeing transit traffic, spoofed addresses, routing mistakes).
--
-- Needs --local-networks: without it every address is remote, so setup() declines and the
-- script does not run (--list-scripts shows "setup() returned false"). Flows to broadcast
-- or multicast addresses and from unspecified addresses (0.0.0.0, ::) are not reported.
--
local user_scripts = require "user_scripts"

local STATUS = "remote_to_remote"

local script = {
   category = user_scripts.script_categories.network,
   default_enabled = true,
   gui = {
      i18n_title = "Remote to Remote Flows",
      i18n_description = "Flows between two hosts outside the local networks (--local-networks)",
      input_builder = user_scripts.flow_checkbox_input_builder,
   },
   hooks = {},
}

function script.setup()
   local nets = ntop.getLocalNetworks()
   if type(nets) ~= "table" or #nets == 0 then
      print("no --local-networks configured: every flow would be remote to remote; not running")
      return false
   end
   return true
end

local function is_special(ip)
   if ip == "255.255.255.255" or ip == "0.0.0.0" or ip == "::" then return true end
   local a = ip:match("^(%d+)%.")
   if a then
      a = tonumber(a)
      return a >= 224 and a <= 239
   end
   return ip:find("^[fF][fF]%x%x:") ~= nil
end

-- Flows that raised the status (interface id -> flow id -> true) until their flowEnd.
local raised = {}

local function check(ending)
   if flow.isClientLocal() or flow.isServerLocal() then return end
   local ifid, fid = flow.getInterfaceId(), flow.getFlowId()
   local done = raised[ifid]
   if done and done[fid] then
      if ending then done[fid] = nil end
      return
   end
   local cli, srv = flow.getClientIp(), flow.getServerIp()
   if not cli or not srv or is_special(cli) or is_special(srv) then return end
   if not ending then
      if not done then
         done = {}
         raised[ifid] = done
      end
      done[fid] = true
   end
   flow.triggerStatus(STATUS, {
      message = string.format("Remote client %s and remote server %s (%s:%d -> %s:%d %s)", cli,
                              srv, cli, flow.getClientPort(), srv, flow.getServerPort(),
                              flow.getL4ProtoName()),
      cli_ip = cli,
      srv_ip = srv,
      l7_proto = flow.getL7ProtoName(),
   }, 10, 10, 10)
end

local function l7_unknown()
   local n = flow.getL7ProtoName()
   return n == nil or n == ""
end

function script.hooks.protocolDetected(now, config)
   check(false)
end

-- The engine runs protocolDetected first whenever the L7 name is known: only flows without
-- L7 still need the check here.
function script.hooks.periodicUpdate(now, config)
   if l7_unknown() then check(false) end
end

function script.hooks.flowEnd(now, config)
   if l7_unknown() then
      check(true)
   else
      local done = raised[flow.getInterfaceId()]
      if done then done[flow.getFlowId()] = nil end
   end
end

return script
