"""A local HTTP emulator of the MailUp API, faithful to ../shared/reference/mailup-api.md (§20).

An independent fake of an external system: it imports nothing from the portal (standard library, Flask,
Werkzeug, click). State lives in memory, optionally in a JSON file.

Run it
    portal mailup-emulator [--host H] [--port P] [--rate-limit N]
                           [--account USERNAME:PASSWORD:CLIENT_ID:CLIENT_SECRET ...] [--state FILE]
    (one demo account, printed at start, when no --account is given)

    In tests:  url, handle = start_emulator(accounts=[AccountSpec(...)], rate_limit=0)
               handle.state is the live EmulatorState (its methods are the function API below);
               handle.stop() shuts the server down (also a context manager).

What it serves (paths and parameter names match case-insensitively, as on IIS/WCF)
    /Authorization/OAuth/Token        password, refresh_token (rotating) and authorization_code grants;
                                      GET or POST; form body or query string; client credentials there or
                                      in a Basic header → {access_token, expires_in, refresh_token};
                                      400 {error, error_description} on failure        (auth.py)
    /Authorization/OAuth/LogOn        consents at once, redirects with ?code=
    /API/v1.1/Rest/ConsoleService.svc/Console/...
        Authentication/Info|Details, User/Lists, User/Emails, List[/{id}], User/List/{id},
        List/{id}/Groups, List/{id}/Group[/{g}[/Recipients]], Group/{g}/Recipients,
        Group/{g}/Subscribe|Unsubscribe/{r}, List/{id}/Recipient/{r}/Groups,
        List/{id}/Recipients/Subscribed|Unsubscribed|Pending|EmailOptins, Sms/List/{id}/Recipients/...,
        List/{id}/Recipient and Group/{g}/Recipient (synchronous → bare id, ?ConfirmEmail=),
        List/{id}/Recipients and Group/{g}/Recipients, Sms/List|Group/{id}/Recipients (asynchronous
        import of an array → bare import id; ?ConfirmEmail, importType=asOptout|asOptin, ignoreMobile,
        clearMissingOrEmptyFields, removeFromPrevGroups), Import/{id}, Imports[/{id}],
        Import/{id}/Sending, Recipient/Detail (PUT), Recipient/{id or email}, Recipient/DynamicFields,
        List/{id}/Unsubscribe|Subscribe/{r}, List/{id}/Recipient/{r} (DELETE), Recipients/{r} (DELETE),
        List/{id}/Emails, List/{id}/Email[/{m}] (create, read, clone, update, delete),
        .../Online/Visibility, List/{id}/Tags|Tag[/{t}], List/{id}/Email/{m}/Send and
        Group/{g}/Email/{m}/Send (?datetime= to schedule), Email/Send (one address),
        List/{id}/Email/{m}/SendHistory, Email/Sendings/Immediate|Deferred|Undefined,
        Email/Sendings/{s}/Immediate|Deferred|Stop, Email/Sendings/{s} (DELETE),
        Sms/List/{id}/Message[s][/{m}], Sms/Send, Sms/List|Group/{id}/Message/{m}/Send,
        Sms/Sendings/..., Sms/{m}/Sendings/Report[Details]
    /API/v1.1/Rest/MailStatisticsService.svc/{Message|Recipient}/{id}/{Count|List}/{Kind}
        Kinds: Recipients (delivered), Deliveries, Views, Clicks, UrlClicks, UrlClickDetails,
        ClicksDetails, Bounces, BouncesDetails, Unsubscriptions. Count is a bare integer.
    /frontend/xmlSubscribe.aspx, Xmlchksubscriber.aspx, Xmlunsubscribe.aspx, xmlUpdSubscriber.aspx
        (and Updsubscriber.aspx), WSActivation.aspx — bare numeric codes as in §15.1

Shapes (§4): paged wrapper {IsPaginated, Items, PageNumber, PageSize, Skipped, TotalElementsCount},
0-based pageNumber (pageNum accepted too), pageSize 20 by default, pages past the end empty with 200;
filterby / orderby (query.py); bare JSON integers; empty 200 bodies for DELETE/subscribe/unsubscribe;
key casing as the reference gives it (idList on console DTOs, IdList/ListGuid on list and statistics
DTOs); JSON errors {ErrorCode, ErrorDescription, ErrorName, ErrorStack}; 401 for a missing, invalid or
expired token; 429 over the per-account rate limit (token bucket of N calls per second, off by
default). JSON only (no XML answers); JSONP via ?callback= on GET.

Behaviour: every account starts with list 1 (and its GUID) and the 27 standard personal fields; email and
mobile are unique per account; an async import completes after `import_polls` status reads (1 by
default: the first read says Completed=false) or `import_delay` seconds; sends "deliver" (a Delivery row
per recipient); a hard bounce unsubscribes the address from every list of the account (§19); statistics
of delivered recipients, bounces and unsubscriptions are kept 15 days, views and clicks 90 (events.py).
Shapes the reference does not document are the emulator's choice and say so where they are built
(sending queue items, Unsubscriptions items, bounce Type "Hard"/"Soft", Optout_Type numbers in model.py).

Admin (no MailUp equivalent; JSON; under /_emulator, see routes/admin.py)
    GET  /_emulator/                                  options, accounts, emulator clock
    POST /_emulator/accounts                          {username, password, client_id, client_secret}
    GET  /_emulator/accounts/{u}[/deliveries|/sendings]
    POST /_emulator/accounts/{u}/events               {kind, message_id, recipient | all: true, url?, bounce_type?}
                                                      kind: delivery view click hard_bounce soft_bounce
                                                      complaint unsubscribe
    POST /_emulator/accounts/{u}/confirm              {list_id, recipient}: a pending recipient confirms
    POST /_emulator/clock                             {seconds?, days?}: move the clock forward
    POST /_emulator/tokens/expire                     {username?}
    POST /_emulator/imports/complete                  {username?}
    POST /_emulator/options                           {rate_limit?, token_lifetime?, import_polls?, ...}
    POST /_emulator/faults                            {status, count?, username?, path?}: the next calls fail
    POST /_emulator/save                              write the --state file now

Function API (EmulatorState): add_account, account, advance_clock, expire_tokens, complete_imports,
set_rate_limit, inject_fault, deliveries, simulate, simulate_all, confirm, process_due, save.
"""

from .server import DEMO_ACCOUNT, EmulatorHandle, build_state, start_emulator
from .state import AccountSpec, EmulatorState, Options

__all__ = [
    "DEMO_ACCOUNT",
    "AccountSpec",
    "EmulatorHandle",
    "EmulatorState",
    "Options",
    "build_state",
    "start_emulator",
]
