--
-- unexpected_smtp: SMTP traffic with a server that is not an allowed SMTP server (ntopng's
-- "Unexpected SMTP Server"): spam bots, mail sent around the approved relays. SMTP/SMTPS by
-- nDPI, or TCP ports 25/465/587 when nDPI does not know the flow or sees only TLS.
--
-- Configure the allowed servers (addresses or CIDRs, IPv4 and IPv6) in
-- <data-dir>/scripts_config.json:
--   {"flow": {"unexpected_smtp": {"enabled": true,
--                      "value": {"items": ["10.0.0.25", "198.51.100.0/28"]}}}}
-- Disabled by default; while the list is empty the script raises nothing.
--
local user_scripts = require "user_scripts"

local SPEC = {
   status = "unexpected_smtp",
   what = "SMTP",
   l7 = { SMTP = true, SMTPS = true }, -- nDPI protocol names (master or application)
   wrappers = { TLS = true }, -- L7 protocols that may carry it on its ports
   ports = { [25] = true, [465] = true, [587] = true },
   flow_score = 50, cli_score = 50, srv_score = 10,
}

local script = {
   category = user_scripts.script_categories.security,
   default_enabled = false,
   default_value = { items = {} },
   l4_proto = "tcp",
   gui = {
      i18n_title = "Unexpected SMTP Server",
      i18n_description = "SMTP traffic with a server that is not an allowed SMTP server",
      input_builder = user_scripts.items_list_input_builder,
      item_list_type = "ip_address",
      input_title = "Allowed SMTP servers",
      input_description = "Addresses or networks (CIDR) of the allowed SMTP servers",
   },
   hooks = {},
}

return require("unexpected_server").make(SPEC, script)
