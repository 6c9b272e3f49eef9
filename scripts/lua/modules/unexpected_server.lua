--
-- unexpected_server: the logic of the unexpected_{dns,ntp,dhcp,smtp} flow scripts (ntopng's
-- "Unexpected <protocol> Server"): traffic of a protocol with a server that is not in the
-- script's allow list. Each script gives its SPEC and its script table:
--
--   return require("unexpected_server").make(SPEC, script)
--
-- SPEC = { status, what, l7 = {nDPI names}, wrappers = {L7 names that may carry it},
--          ports = {[port] = true}, flow_score, cli_score, srv_score }
--
local ip_set = require "ip_set"

local unexpected_server = {}

-- Adds the hooks to `script` and returns it; the per-flow state belongs to this script.
function unexpected_server.make(SPEC, script)
   -- A flow is SPEC's protocol when nDPI says so (master or application protocol), or when nDPI
   -- does not know it (or knows only a wrapper such as TLS) and one endpoint uses a SPEC port.
   -- The server is the endpoint on the SPEC port (a capture can start with the server's
   -- answer, which makes the server the flow's client), else the flow's server.
   local function protocol_server()
      local master, app = flow.getL7MasterProtoName(), flow.getL7AppProtoName()
      local sport, cport = flow.getServerPort(), flow.getClientPort()
      local by_l7 = SPEC.l7[master] or SPEC.l7[app]
      if not by_l7 then
         local unknown = (master == nil or master == "" or master == "Unknown")
            and (app == nil or app == "" or app == "Unknown")
         if not (unknown or SPEC.wrappers[master] or SPEC.wrappers[app]) then return nil end
      end
      if SPEC.ports[sport] then return flow.getServerIp(), sport, flow.getClientIp() end
      if SPEC.ports[cport] then return flow.getClientIp(), cport, flow.getServerIp() end
      if by_l7 then return flow.getServerIp(), sport, flow.getClientIp() end
      return nil
   end

   -- Broadcast, multicast and unspecified addresses are not servers (DHCP discovers go to
   -- 255.255.255.255 from 0.0.0.0, DHCPv6 solicits to ff02::1:2).
   local function is_special(ip)
      if ip == "255.255.255.255" or ip == "0.0.0.0" or ip == "::" then return true end
      local a = ip:match("^(%d+)%.")
      if a then
         a = tonumber(a)
         return a >= 224 and a <= 239
      end
      return ip:find("^[fF][fF]%x%x:") ~= nil
   end

   -- Flows that raised the status (interface id -> flow id -> true) until their flowEnd:
   -- the check runs in several hooks, the alert is raised once per flow.
   local raised = {}

   local function check(config, ending)
      local ifid, fid = flow.getInterfaceId(), flow.getFlowId()
      local done = raised[ifid]
      if done and done[fid] then
         if ending then done[fid] = nil end
         return
      end
      local allowed = ip_set.of_config(config)
      if allowed.n == 0 then return end -- nothing configured: nothing is unexpected
      local server, port, client = protocol_server()
      if not server or is_special(server) or ip_set.match(allowed, server) then return end
      if not ending then
         if not done then
            done = {}
            raised[ifid] = done
         end
         done[fid] = true
      end
      flow.triggerStatus(SPEC.status, {
         message = string.format("%s server %s (port %d) is not an allowed %s server (client %s)",
                                 SPEC.what, server, port, SPEC.what, client),
         server_ip = server,
         server_port = port,
         client_ip = client,
         l4_proto = flow.getL4ProtoName(),
         l7_proto = flow.getL7ProtoName(),
      }, SPEC.flow_score, SPEC.cli_score, SPEC.srv_score)
   end

   -- Detected protocols are checked as soon as nDPI is done; flows without L7 (--no-l7, or
   -- probes without nDPI) are checked by port in periodicUpdate/flowEnd. The engine runs
   -- protocolDetected before the other hooks whenever the L7 name is known.
   local function l7_unknown()
      local n = flow.getL7ProtoName()
      return n == nil or n == ""
   end

   function script.hooks.protocolDetected(now, config)
      check(config, false)
   end

   function script.hooks.periodicUpdate(now, config)
      if l7_unknown() then check(config, false) end
   end

   function script.hooks.flowEnd(now, config)
      -- a detected flow was checked in protocolDetected (possibly before nDPI was done:
      -- check again, `raised` keeps it to one alert)
      check(config, true)
   end

   return script
end

return unexpected_server
