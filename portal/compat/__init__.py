"""Subscribe endpoints compatible with the previous provider's frontend HTTP API (reference §15.1), so
the WordPress, Joomla, WooCommerce and Magento plugins and scripts written for it keep working once
their "console host" points at the agency's domain. Internal name only: nothing a client sees names
the provider.

- `params.py`: parameters in any case, from the query string and/or a form body, empty = absent;
- `access.py`: per client on/off and the caller-IP allow-list (off until the client turns it on);
- `pages.py`: each page's rules and numeric codes, through the forms' one sign-up path and the contact
  service (portal/forms/optin.py, portal/services/contacts.py);
- `views.py`: `/frontend/<page>.aspx`, paths matched in any case, per-IP rate limit, bare-number bodies.
"""

from flask import Blueprint

bp = Blueprint("compat", __name__)

from . import views  # noqa: E402,F401
