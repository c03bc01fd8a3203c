# Webbsidorna på svenska: samma nycklar som den engelska katalogen.
skip-to-content = Hoppa till innehållet
nav-label = Huvudmeny
nav-workspace = Arbetsyta
sign-in = Logga in
sign-out = Logga ut
language = Språk
yes = Ja
no = Nej

landing-title = Välkommen
landing-heading = Din organisations register och dokument, förvarade som utlovat
landing-lead = Logga in för att arbeta med dina register och filer. Varje version sparas, filer och säkerhetskopior krypteras och varje ändring finns i granskningsloggen.
landing-promises = Vad valv håller
landing-kept-title = Varje version sparas
landing-kept = Poster och filer behåller varje version, med vem som ändrade vad och när.
landing-sealed-title = Förseglat per organisation
landing-sealed = Filer och säkerhetskopior krypteras med en nyckel som är din organisations egen.
landing-rights-title = Människors rättigheter besvaras
landing-rights = Begäranden om tillgång och radering följs upp till sista dagen.

sign-in-title = Logga in
field-organisation = Organisation
field-organisation-hint = Det korta namn som din administratör gav dig, till exempel acme.
field-email = E-postadress
field-password = Lösenord
field-code = Kod

second-factor-title = Bekräfta att det är du
second-factor-method = Hur vill du bekräfta?
second-factor-totp = En kod från min autentiseringsapp
second-factor-code = En kod som skickas till min e-post
second-factor-recovery = En av mina återställningskoder
second-factor-continue = Fortsätt
second-factor-send-email = Skicka en kod till min e-post
second-factor-sent = En kod är på väg till din e-postadress. Den gäller i några minuter.

home-title = Arbetsyta
home-collections = Samlingar
home-no-collections = Det finns inga samlingar ännu. En administratör skapar dem.
home-collection-name = Namn
home-collection-fields = Fält
home-collection-personal = Om personer

error-title = Något stoppade här
error-request-id = Om du rapporterar detta, ange:
error-back = Tillbaka till startsidan
error-not-found = Det finns inget på den här adressen.
error-form-expired = Formuläret har gått ut eller kom från en annan sida. Ladda om sidan och försök igen.
error-bad-form = Formuläret kunde inte läsas. Ladda om sidan och försök igen.
error-bad_credentials = Organisationen, e-postadressen eller lösenordet är fel.
error-account_blocked = Ditt konto är spärrat. Fråga din organisations administratör.
error-tenant_blocked = Din organisations åtkomst är spärrad. Fråga din leverantör.
error-session_invalid = Din inloggning har gått ut. Logga in igen.
error-sign_in_locked = För många försök. Vänta en stund och försök igen.
error-rate_limited = För många förfrågningar. Vänta en stund och försök igen.
error-tenant_terminated = Din organisations avtal har upphört.
error-code_invalid = Koden stämmer inte, eller så har den gått ut.
error-code_replayed = Koden har redan använts. Vänta på nästa.
error-second_factor_locked = För många felaktiga koder. Vänta en stund; vi har meddelat dig via e-post.
