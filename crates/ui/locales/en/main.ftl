# The web pages in English. Every key here is in every other language too
# (a unit test checks it); `error-<code>` keys translate the service's
# error codes, whose English sentence is used where a key is missing.
skip-to-content = Skip to content
nav-label = Main
nav-workspace = Workspace
sign-in = Sign in
sign-out = Sign out
language = Language
yes = Yes
no = No

landing-title = Welcome
landing-heading = Your organisation's records and documents, kept as promised
landing-lead = Sign in to work with your records and files. Every version is kept, files and backups are encrypted, and every change is in the audit journal.
landing-promises = What valv keeps
landing-kept-title = Every version kept
landing-kept = Records and files keep every version, with who changed what and when.
landing-sealed-title = Sealed per organisation
landing-sealed = Files and backups are encrypted with a key of your organisation's own.
landing-rights-title = People's rights answered
landing-rights = Requests for access and erasure are tracked to their deadline.

sign-in-title = Sign in
field-organisation = Organisation
field-organisation-hint = The short name your administrator gave you, for example acme.
field-email = E-mail address
field-password = Password
field-code = Code

second-factor-title = Confirm it is you
second-factor-method = How will you confirm?
second-factor-totp = A code from my authenticator app
second-factor-code = A code sent to my e-mail
second-factor-recovery = One of my recovery codes
second-factor-continue = Continue
second-factor-send-email = Send me a code by e-mail
second-factor-sent = A code is on its way to your e-mail address. It is valid for a few minutes.

home-title = Workspace
home-collections = Collections
home-no-collections = There are no collections yet. An administrator creates them.
home-collection-name = Name
home-collection-fields = Fields
home-collection-personal = About people

error-title = Something stopped here
error-request-id = If you report this, quote:
error-back = Back to the front page
error-not-found = There is nothing at this address.
error-form-expired = This form has expired or came from another page. Reload the page and try again.
error-bad-form = The form could not be read. Reload the page and try again.
error-bad_credentials = The organisation, e-mail address or password is wrong.
error-account_blocked = Your account is blocked. Ask your organisation's administrator.
error-tenant_blocked = Your organisation's access is blocked. Ask your provider.
error-session_invalid = Your sign-in has expired. Sign in again.
error-sign_in_locked = Too many attempts. Wait a moment and try again.
error-rate_limited = Too many requests. Wait a moment and try again.
error-tenant_terminated = Your organisation's agreement has ended.
error-code_invalid = That code is not right, or it has expired.
error-code_replayed = That code was used already. Wait for the next one.
error-second_factor_locked = Too many wrong codes. Wait a while; we have told you by e-mail.
