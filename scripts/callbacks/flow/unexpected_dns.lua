--
-- unexpected_dns: DNS traffic with a server that is not an allowed DNS server (ntopng's
-- "Unexpected DNS Server"): clients that bypass the network's resolvers, rogue resolvers,
-- DNS tunnels to outside servers. DNS by nDPI, or port 53 when nDPI does not know the flow.
--
-- Configure the allowed servers (addresses or CIDRs, IPv4 and IPv6) in
-- <data-dir>/scripts_config.json:
--   {"flow": {"unexpected_dns": {"enabled": true,
--                      "value": {"items": ["10.0.0.53", "2001:db8::53"]}}}}
-- Disabled by default; while the list is empty the script raises nothing.
--
local user_scripts = require "user_scripts"

local SPEC = {
   status = "unexpected_dns",
   what = "DNS",
   l7 = { DNS = true }, -- nDPI protocol names (master or application)
   wrappers = {}, -- L7 protocols that may carry it on its ports
   ports = { [53] = true },
   flow_score = 50, cli_score = 50, srv_score = 10,
}

local script = {
   category = user_scripts.script_categories.security,
   default_enabled = false,
   default_value = { items = {} },
   gui = {
      i18n_title = "Unexpected DNS Server",
      i18n_description = "DNS traffic with a server that is not an allowed DNS server",
      input_builder = user_scripts.items_list_input_builder,
      item_list_type = "ip_address",
      input_title = "Allowed DNS servers",
      input_description = "Addresses or networks (CIDR) of the allowed DNS servers",
   },
   hooks = {},
}

return require("unexpected_server").make(SPEC, script)
