//! Every word the widget shows, per locale. English is the reference: each locale's table is an
//! exhaustive `match`, so a key without a translation does not compile, and the tests check that
//! every translation keeps English's placeholders (`{name}`), which the view fills in or replaces
//! with markup (`segments`).
//!
//! The locale comes from the site's setting, else the browser's languages, else English
//! (`Locale::negotiate`). Bot answers and staff replies are the site's own text and are not
//! translated here; dates and times are formatted by the browser (`Intl`) in the same locale.
//!
//! The widget has only English built in (`Words::default`); the edge serves the table of the
//! visitor's language with the site's widget settings (`Locale::table`), so more languages cost
//! the widget's download nothing.

/// A language the widget speaks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Locale {
    #[default]
    En,
    Es,
    De,
    Fr,
    Ja,
    Ar,
}

impl Locale {
    pub const ALL: [Locale; 6] = [Locale::En, Locale::Es, Locale::De, Locale::Fr, Locale::Ja, Locale::Ar];

    /// The BCP 47 tag, for `lang` and `Intl`.
    pub fn tag(self) -> &'static str {
        match self {
            Locale::En => "en",
            Locale::Es => "es",
            Locale::De => "de",
            Locale::Fr => "fr",
            Locale::Ja => "ja",
            Locale::Ar => "ar",
        }
    }

    /// Written right to left: the panel is mirrored.
    pub fn rtl(self) -> bool {
        self == Locale::Ar
    }

    /// The locale a tag such as `de`, `es-MX` or `ar_EG` asks for, if the widget speaks it.
    pub fn from_tag(tag: &str) -> Option<Locale> {
        let primary = tag.trim().split(['-', '_']).next()?.to_ascii_lowercase();
        Locale::ALL.into_iter().find(|l| l.tag() == primary)
    }

    /// The first of `wanted` (the site's setting, then the browser's languages, best first) that
    /// the widget speaks, with that tag as asked (`es-MX`: Mexican dates and times); English
    /// when none is.
    pub fn negotiate<'a>(wanted: impl IntoIterator<Item = &'a str>) -> (Locale, String) {
        wanted
            .into_iter()
            .find_map(|tag| Some((Locale::from_tag(tag)?, tag.trim().replace('_', "-"))))
            .unwrap_or((Locale::En, "en".to_owned()))
    }

    pub fn text(self, key: Text) -> &'static str {
        match self {
            Locale::En => en(key),
            Locale::Es => es(key),
            Locale::De => de(key),
            Locale::Fr => fr(key),
            Locale::Ja => ja(key),
            Locale::Ar => ar(key),
        }
    }

    /// Every text in `Text::ALL` order: what the edge serves a widget (`Words::from_table`).
    pub fn table(self) -> Vec<String> {
        Text::ALL.iter().map(|key| self.text(*key).to_owned()).collect()
    }
}

/// The words a widget speaks: English, built in, or the table of another language as the edge
/// served it (`Locale::table`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Words {
    table: Option<&'static [String]>,
}

impl Words {
    /// Another language's table, in `Text::ALL` order; an entry that lost or changed English's
    /// placeholders, or is blank, falls back to English, and a table of the wrong length is
    /// ignored. Kept for the page's life (one per page).
    pub fn from_table(strings: Vec<String>) -> Words {
        if strings.len() != Text::ALL.len() {
            return Words::default();
        }
        let checked: Vec<String> = strings
            .into_iter()
            .zip(Text::ALL)
            .map(|(text, key)| {
                if !text.trim().is_empty() && slots(&text) == slots(en(key)) {
                    text
                } else {
                    en(key).to_owned()
                }
            })
            .collect();
        Words {
            table: Some(Box::leak(checked.into_boxed_slice())),
        }
    }

    pub fn text(self, key: Text) -> &'static str {
        self.table.map_or_else(|| en(key), |table| table[key as usize].as_str())
    }

    /// `key`'s text with each `{name}` replaced by its value.
    pub fn fill(self, key: Text, values: &[(&str, &str)]) -> String {
        fill(self.text(key), values)
    }
}

fn fill(text: &str, values: &[(&str, &str)]) -> String {
    segments(text)
        .map(|segment| match segment {
            Segment::Text(text) => text,
            Segment::Slot(name) => values.iter().find(|(n, _)| *n == name).map_or("", |(_, v)| *v),
        })
        .collect()
}

/// A text's placeholders, sorted.
fn slots(text: &str) -> Vec<&str> {
    let mut names: Vec<&str> = segments(text)
        .filter_map(|s| match s {
            Segment::Slot(name) => Some(name),
            Segment::Text(_) => None,
        })
        .collect();
    names.sort_unstable();
    names
}

/// A piece of a text: words, or a placeholder the view fills (with text or markup).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Segment<'a> {
    Text(&'a str),
    Slot(&'a str),
}

/// Splits a text at its `{placeholders}`.
pub fn segments(text: &str) -> impl Iterator<Item = Segment<'_>> {
    let mut rest = text;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        if let Some(after) = rest.strip_prefix('{')
            && let Some(end) = after.find('}')
        {
            rest = &after[end + 1..];
            return Some(Segment::Slot(&after[..end]));
        }
        // Skip the first character whole: it may take more than one byte (`¡`, `こ`, `م`).
        let first = rest.chars().next().map_or(1, char::len_utf8);
        let end = rest[first..].find('{').map_or(rest.len(), |i| i + first);
        let (text, tail) = rest.split_at(end);
        rest = tail;
        Some(Segment::Text(text))
    })
}

/// What the widget can say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Text {
    OpenChat,
    OpenChatOneUnread,
    /// `{n}`
    OpenChatUnread,
    CloseChat,
    PanelLabel,
    /// The panel's title and the name shown writing when no person is named.
    Support,
    StatusUnavailable,
    StatusReconnecting,
    StatusConnecting,
    StatusWaiting,
    StatusBot,
    /// `{time}`: when a person is back.
    StatusAway,
    ConversationLabel,
    Greeting,
    /// `{name}`
    Writing,
    TalkToPerson,
    MessageLabel,
    Placeholder,
    Send,
    /// `{n}`, `{max}`
    TooLongCount,
    ContinueAnyDevice,
    /// `{email}`
    VerifyOffer,
    SendCode,
    NoThanks,
    SendingCode,
    /// `{address}`
    EnterCode,
    Verify,
    CheckingCode,
    /// `{email}`
    Verified,
    SendNewCode,
    NotNow,
    DidThatHelp,
    Yes,
    No,
    GladItHelped,
    SorryNotHelped,
    HowDidWeDo,
    /// `{score}`
    ScoreOfFive,
    ThanksForRating,
    ContinueElsewhere,
    ContinuePitch,
    Cancel,
    /// `{channel}`
    GettingLink,
    /// `{channel}`
    ConnectedOn,
    /// `{channel}`
    ContinueOn,
    /// `{channel}`
    OpenChannel,
    /// `{code}`, `{to}`, `{minutes}`
    SendByHand,
    TryAgain,
    Dismiss,
    /// `{article}`
    FromArticle,
    EmailChannel,
    /// `{time}`
    AwayNotice,
    AwayAskEmail,
    EmailAddress,
    ReplyByEmail,
    PreChatIntro,
    StartChat,
    /// `{field}`
    FieldRequired,
    EmailInvalid,
    Optional,
    ErrUnknownSite,
    ErrOriginNotAllowed,
    ErrSessionEnded,
    /// `{limit}`
    ErrTooLongLimit,
    ErrTooLong,
    /// `{seconds}`
    ErrRateLimitedFor,
    ErrRateLimited,
    /// `{seconds}`: the site is refusing new chats for a moment (too many at once).
    ErrBusyFor,
    /// `{reason}` (the edge's own words)
    ErrRefused,
    ErrIdentity,
    ErrCodeInvalid,
    ErrCodeExpired,
    ErrCodeUsed,
    ErrCodeAttempts,
    ErrChannelUnavailable,
    ErrEmail,
    ErrInternal,
    ErrUnreachable,
    ErrSendCode,
    ErrCheckCode,
    ErrGetLink,
    ErrSaveRating,
    ErrSaveFeedback,
}

impl Text {
    /// Every key, for the completeness tests.
    pub const ALL: [Text; 83] = [
        Text::OpenChat,
        Text::OpenChatOneUnread,
        Text::OpenChatUnread,
        Text::CloseChat,
        Text::PanelLabel,
        Text::Support,
        Text::StatusUnavailable,
        Text::StatusReconnecting,
        Text::StatusConnecting,
        Text::StatusWaiting,
        Text::StatusBot,
        Text::StatusAway,
        Text::ConversationLabel,
        Text::Greeting,
        Text::Writing,
        Text::TalkToPerson,
        Text::MessageLabel,
        Text::Placeholder,
        Text::Send,
        Text::TooLongCount,
        Text::ContinueAnyDevice,
        Text::VerifyOffer,
        Text::SendCode,
        Text::NoThanks,
        Text::SendingCode,
        Text::EnterCode,
        Text::Verify,
        Text::CheckingCode,
        Text::Verified,
        Text::SendNewCode,
        Text::NotNow,
        Text::DidThatHelp,
        Text::Yes,
        Text::No,
        Text::GladItHelped,
        Text::SorryNotHelped,
        Text::HowDidWeDo,
        Text::ScoreOfFive,
        Text::ThanksForRating,
        Text::ContinueElsewhere,
        Text::ContinuePitch,
        Text::Cancel,
        Text::GettingLink,
        Text::ConnectedOn,
        Text::ContinueOn,
        Text::OpenChannel,
        Text::SendByHand,
        Text::TryAgain,
        Text::Dismiss,
        Text::FromArticle,
        Text::EmailChannel,
        Text::AwayNotice,
        Text::AwayAskEmail,
        Text::EmailAddress,
        Text::ReplyByEmail,
        Text::PreChatIntro,
        Text::StartChat,
        Text::FieldRequired,
        Text::EmailInvalid,
        Text::Optional,
        Text::ErrUnknownSite,
        Text::ErrOriginNotAllowed,
        Text::ErrSessionEnded,
        Text::ErrTooLongLimit,
        Text::ErrTooLong,
        Text::ErrRateLimitedFor,
        Text::ErrRateLimited,
        Text::ErrBusyFor,
        Text::ErrRefused,
        Text::ErrIdentity,
        Text::ErrCodeInvalid,
        Text::ErrCodeExpired,
        Text::ErrCodeUsed,
        Text::ErrCodeAttempts,
        Text::ErrChannelUnavailable,
        Text::ErrEmail,
        Text::ErrInternal,
        Text::ErrUnreachable,
        Text::ErrSendCode,
        Text::ErrCheckCode,
        Text::ErrGetLink,
        Text::ErrSaveRating,
        Text::ErrSaveFeedback,
    ];
}

fn en(key: Text) -> &'static str {
    match key {
        Text::OpenChat => "Open chat",
        Text::OpenChatOneUnread => "Open chat (1 unread reply)",
        Text::OpenChatUnread => "Open chat ({n} unread replies)",
        Text::CloseChat => "Close chat",
        Text::PanelLabel => "Chat with support",
        Text::Support => "Support",
        Text::StatusUnavailable => "Unavailable",
        Text::StatusReconnecting => "Reconnecting…",
        Text::StatusConnecting => "Connecting…",
        Text::StatusWaiting => "Waiting for a person from the team",
        Text::StatusBot => "Answers from our help centre, or a person",
        Text::StatusAway => "Away, back on {time}",
        Text::ConversationLabel => "Conversation",
        Text::Greeting => {
            "Hi! Ask a question and I'll look in our help centre. A person from the team is always an option."
        }
        Text::Writing => "{name} is writing…",
        Text::TalkToPerson => "Talk to a person",
        Text::MessageLabel => "Your message",
        Text::Placeholder => "Ask a question…",
        Text::Send => "Send",
        Text::TooLongCount => "{n} / {max} characters: please shorten your message.",
        Text::ContinueAnyDevice => "Continue on any device",
        Text::VerifyOffer => "Want to pick this conversation up on any device? We can send a code to {email}.",
        Text::SendCode => "Send code",
        Text::NoThanks => "No thanks",
        Text::SendingCode => "Sending a code…",
        Text::EnterCode => "Enter the 6-digit code we sent to {address}",
        Text::Verify => "Verify",
        Text::CheckingCode => "Checking the code…",
        Text::Verified => "Verified {email}: this conversation now follows you to any device where you use it.",
        Text::SendNewCode => "Send a new code",
        Text::NotNow => "Not now",
        Text::DidThatHelp => "Did that help?",
        Text::Yes => "Yes",
        Text::No => "No",
        Text::GladItHelped => "Glad that helped. Anything else?",
        Text::SorryNotHelped => "Sorry that didn't help. Try asking another way, or talk to a person.",
        Text::HowDidWeDo => "How did we do?",
        Text::ScoreOfFive => "{score} of 5",
        Text::ThanksForRating => "Thanks for rating us.",
        Text::ContinueElsewhere => "Continue on another channel",
        Text::ContinuePitch => "Carry on where it suits you; this conversation comes along.",
        Text::Cancel => "Cancel",
        Text::GettingLink => "Getting your {channel} link…",
        Text::ConnectedOn => "Connected on {channel}: carry on there whenever you like. Replies reach you there.",
        Text::ContinueOn => "Continue on {channel}",
        Text::OpenChannel => "Open {channel}",
        Text::SendByHand => "Or send {code} to {to}. The code works once, for {minutes} minutes.",
        Text::TryAgain => "Try again",
        Text::Dismiss => "Dismiss",
        Text::FromArticle => "From {article}",
        Text::EmailChannel => "Email",
        Text::AwayNotice => "The team is away right now and back on {time}.",
        Text::AwayAskEmail => {
            "Leave your email and a person will reply there. We'll send a code to confirm it's yours."
        }
        Text::EmailAddress => "Email address",
        Text::ReplyByEmail => "Reply to me by email",
        Text::PreChatIntro => "Before we start, a few details help us help you.",
        Text::StartChat => "Start chat",
        Text::FieldRequired => "Please fill in {field}.",
        Text::EmailInvalid => "Please enter an email address like name@example.com.",
        Text::Optional => "optional",
        Text::ErrUnknownSite => "This chat isn't set up for this site yet, so messages can't be delivered.",
        Text::ErrOriginNotAllowed => "Chat isn't enabled on this page's address, so messages can't be delivered.",
        Text::ErrSessionEnded => "Your chat session has ended. Reload the page to start a new one.",
        Text::ErrTooLongLimit => "That message is too long: the limit is {limit} characters.",
        Text::ErrTooLong => "That message is too long.",
        Text::ErrRateLimitedFor => "You're sending messages quickly. Please wait {seconds} seconds and try again.",
        Text::ErrRateLimited => "You're sending messages quickly. Please wait a moment and try again.",
        Text::ErrBusyFor => "Lots of people are chatting right now. Trying again in {seconds} seconds.",
        Text::ErrRefused => "That message couldn't be sent: {reason}.",
        Text::ErrIdentity => "We couldn't confirm who you're signed in as, so this chat stays anonymous for now.",
        Text::ErrCodeInvalid => "That code isn't right. Check the email and try again.",
        Text::ErrCodeExpired => "That code has expired. Ask for a new one.",
        Text::ErrCodeUsed => "That code was already used. Ask for a new one.",
        Text::ErrCodeAttempts => "Too many wrong codes. Ask for a new one.",
        Text::ErrChannelUnavailable => "That channel isn't available for this site right now.",
        Text::ErrEmail => "We couldn't send an email just now. Please try again in a little while.",
        Text::ErrInternal => "Something went wrong on our side. Your message is safe; we'll keep trying.",
        Text::ErrUnreachable => "We couldn't reach the server. Please try again.",
        Text::ErrSendCode => "We couldn't send the code just now. Please try again.",
        Text::ErrCheckCode => "We couldn't check the code just now. Please try again.",
        Text::ErrGetLink => "We couldn't get a code just now. Please try again.",
        Text::ErrSaveRating => "We couldn't save your rating just now. Please try again.",
        Text::ErrSaveFeedback => "We couldn't save your feedback just now. Please try again.",
    }
}

/// Spanish.
fn es(key: Text) -> &'static str {
    match key {
        Text::OpenChat => "Abrir chat",
        Text::OpenChatOneUnread => "Abrir chat (1 respuesta sin leer)",
        Text::OpenChatUnread => "Abrir chat ({n} respuestas sin leer)",
        Text::CloseChat => "Cerrar chat",
        Text::PanelLabel => "Chat con soporte",
        Text::Support => "Soporte",
        Text::StatusUnavailable => "No disponible",
        Text::StatusReconnecting => "Reconectando…",
        Text::StatusConnecting => "Conectando…",
        Text::StatusWaiting => "Esperando a una persona del equipo",
        Text::StatusBot => "Respuestas de nuestro centro de ayuda, o de una persona",
        Text::StatusAway => "Ausente, de vuelta el {time}",
        Text::ConversationLabel => "Conversación",
        Text::Greeting => {
            "¡Hola! Haz una pregunta y la buscaré en nuestro centro de ayuda. Siempre puedes hablar con una persona del equipo."
        }
        Text::Writing => "{name} está escribiendo…",
        Text::TalkToPerson => "Hablar con una persona",
        Text::MessageLabel => "Tu mensaje",
        Text::Placeholder => "Haz una pregunta…",
        Text::Send => "Enviar",
        Text::TooLongCount => "{n} / {max} caracteres: acorta tu mensaje, por favor.",
        Text::ContinueAnyDevice => "Continuar en cualquier dispositivo",
        Text::VerifyOffer => {
            "¿Quieres retomar esta conversación en cualquier dispositivo? Podemos enviar un código a {email}."
        }
        Text::SendCode => "Enviar código",
        Text::NoThanks => "No, gracias",
        Text::SendingCode => "Enviando un código…",
        Text::EnterCode => "Introduce el código de 6 dígitos que enviamos a {address}",
        Text::Verify => "Verificar",
        Text::CheckingCode => "Comprobando el código…",
        Text::Verified => {
            "{email} verificado: esta conversación te acompaña ahora en cualquier dispositivo donde la uses."
        }
        Text::SendNewCode => "Enviar un código nuevo",
        Text::NotNow => "Ahora no",
        Text::DidThatHelp => "¿Te ha servido?",
        Text::Yes => "Sí",
        Text::No => "No",
        Text::GladItHelped => "¡Me alegra que te haya servido! ¿Algo más?",
        Text::SorryNotHelped => {
            "Siento que no te haya servido. Prueba a preguntarlo de otra forma o habla con una persona."
        }
        Text::HowDidWeDo => "¿Qué tal te hemos atendido?",
        Text::ScoreOfFive => "{score} de 5",
        Text::ThanksForRating => "Gracias por tu valoración.",
        Text::ContinueElsewhere => "Continuar en otro canal",
        Text::ContinuePitch => "Sigue donde te resulte más cómodo; esta conversación te acompaña.",
        Text::Cancel => "Cancelar",
        Text::GettingLink => "Obteniendo tu enlace de {channel}…",
        Text::ConnectedOn => "Conectado en {channel}: continúa allí cuando quieras. Las respuestas te llegarán allí.",
        Text::ContinueOn => "Continuar en {channel}",
        Text::OpenChannel => "Abrir {channel}",
        Text::SendByHand => "O envía {code} a {to}. El código sirve una sola vez, durante {minutes} minutos.",
        Text::TryAgain => "Reintentar",
        Text::Dismiss => "Descartar",
        Text::FromArticle => "Fuente: {article}",
        Text::EmailChannel => "Correo electrónico",
        Text::AwayNotice => "El equipo no está disponible ahora mismo y volverá el {time}.",
        Text::AwayAskEmail => {
            "Déjanos tu correo electrónico y una persona te responderá allí. Te enviaremos un código para confirmar que es tuyo."
        }
        Text::EmailAddress => "Correo electrónico",
        Text::ReplyByEmail => "Responderme por correo electrónico",
        Text::PreChatIntro => "Antes de empezar, unos pocos datos nos ayudarán a ayudarte.",
        Text::StartChat => "Iniciar chat",
        Text::FieldRequired => "Completa el campo {field}.",
        Text::EmailInvalid => "Introduce un correo electrónico como nombre@ejemplo.com.",
        Text::Optional => "opcional",
        Text::ErrUnknownSite => {
            "Este chat aún no está configurado para este sitio, así que no se pueden entregar los mensajes."
        }
        Text::ErrOriginNotAllowed => {
            "El chat no está activado en la dirección de esta página, así que no se pueden entregar los mensajes."
        }
        Text::ErrSessionEnded => "Tu sesión de chat ha terminado. Recarga la página para empezar una nueva.",
        Text::ErrTooLongLimit => "Ese mensaje es demasiado largo: el límite es de {limit} caracteres.",
        Text::ErrTooLong => "Ese mensaje es demasiado largo.",
        Text::ErrRateLimitedFor => {
            "Estás enviando mensajes muy rápido. Espera {seconds} segundos y vuelve a intentarlo."
        }
        Text::ErrRateLimited => "Estás enviando mensajes muy rápido. Espera un momento y vuelve a intentarlo.",
        Text::ErrBusyFor => "Ahora mismo hay mucha gente chateando. Lo volveremos a intentar en {seconds} segundos.",
        Text::ErrRefused => "No se ha podido enviar ese mensaje: {reason}.",
        Text::ErrIdentity => {
            "No hemos podido confirmar con qué cuenta has iniciado sesión, así que por ahora este chat sigue siendo anónimo."
        }
        Text::ErrCodeInvalid => "Ese código no es correcto. Revisa el correo y vuelve a intentarlo.",
        Text::ErrCodeExpired => "Ese código ha caducado. Pide uno nuevo.",
        Text::ErrCodeUsed => "Ese código ya se ha usado. Pide uno nuevo.",
        Text::ErrCodeAttempts => "Demasiados códigos incorrectos. Pide uno nuevo.",
        Text::ErrChannelUnavailable => "Ese canal no está disponible para este sitio en este momento.",
        Text::ErrEmail => "No hemos podido enviar el correo ahora mismo. Vuelve a intentarlo dentro de un rato.",
        Text::ErrInternal => "Algo ha fallado por nuestra parte. Tu mensaje está a salvo; seguiremos intentándolo.",
        Text::ErrUnreachable => "No hemos podido conectar con el servidor. Vuelve a intentarlo.",
        Text::ErrSendCode => "No hemos podido enviar el código ahora mismo. Vuelve a intentarlo.",
        Text::ErrCheckCode => "No hemos podido comprobar el código ahora mismo. Vuelve a intentarlo.",
        Text::ErrGetLink => "No hemos podido obtener un código ahora mismo. Vuelve a intentarlo.",
        Text::ErrSaveRating => "No hemos podido guardar tu valoración ahora mismo. Vuelve a intentarlo.",
        Text::ErrSaveFeedback => "No hemos podido guardar tus comentarios ahora mismo. Vuelve a intentarlo.",
    }
}

/// German.
fn de(key: Text) -> &'static str {
    match key {
        Text::OpenChat => "Chat öffnen",
        Text::OpenChatOneUnread => "Chat öffnen (1 ungelesene Antwort)",
        Text::OpenChatUnread => "Chat öffnen ({n} ungelesene Antworten)",
        Text::CloseChat => "Chat schließen",
        Text::PanelLabel => "Chat mit dem Support",
        Text::Support => "Support",
        Text::StatusUnavailable => "Nicht verfügbar",
        Text::StatusReconnecting => "Verbindung wird wiederhergestellt…",
        Text::StatusConnecting => "Verbindung wird hergestellt…",
        Text::StatusWaiting => "Warten auf eine Person aus dem Team",
        Text::StatusBot => "Antworten aus unserem Hilfecenter oder von einer Person",
        Text::StatusAway => "Abwesend, zurück am {time}",
        Text::ConversationLabel => "Unterhaltung",
        Text::Greeting => {
            "Hallo! Stellen Sie eine Frage, und ich suche in unserem Hilfecenter nach einer Antwort. Sie können auch jederzeit mit einer Person aus dem Team sprechen."
        }
        Text::Writing => "{name} schreibt…",
        Text::TalkToPerson => "Mit einer Person sprechen",
        Text::MessageLabel => "Ihre Nachricht",
        Text::Placeholder => "Stellen Sie eine Frage…",
        Text::Send => "Senden",
        Text::TooLongCount => "{n} / {max} Zeichen: Bitte kürzen Sie Ihre Nachricht.",
        Text::ContinueAnyDevice => "Auf jedem Gerät fortsetzen",
        Text::VerifyOffer => {
            "Möchten Sie diese Unterhaltung auf jedem Gerät fortsetzen? Wir können einen Code an {email} senden."
        }
        Text::SendCode => "Code senden",
        Text::NoThanks => "Nein danke",
        Text::SendingCode => "Code wird gesendet…",
        Text::EnterCode => "Geben Sie den 6-stelligen Code ein, den wir an {address} gesendet haben",
        Text::Verify => "Bestätigen",
        Text::CheckingCode => "Code wird geprüft…",
        Text::Verified => {
            "{email} bestätigt: Diese Unterhaltung begleitet Sie jetzt auf jedes Gerät, auf dem Sie sie nutzen."
        }
        Text::SendNewCode => "Neuen Code senden",
        Text::NotNow => "Jetzt nicht",
        Text::DidThatHelp => "Hat das geholfen?",
        Text::Yes => "Ja",
        Text::No => "Nein",
        Text::GladItHelped => "Schön, dass das geholfen hat. Noch etwas?",
        Text::SorryNotHelped => {
            "Schade, dass das nicht geholfen hat. Formulieren Sie Ihre Frage anders oder sprechen Sie mit einer Person."
        }
        Text::HowDidWeDo => "Wie zufrieden waren Sie?",
        Text::ScoreOfFive => "{score} von 5",
        Text::ThanksForRating => "Danke für Ihre Bewertung.",
        Text::ContinueElsewhere => "Auf einem anderen Kanal fortsetzen",
        Text::ContinuePitch => "Machen Sie dort weiter, wo es Ihnen passt – diese Unterhaltung kommt mit.",
        Text::Cancel => "Abbrechen",
        Text::GettingLink => "Link für {channel} wird abgerufen…",
        Text::ConnectedOn => "Verbunden über {channel}: Machen Sie dort jederzeit weiter. Antworten erhalten Sie dort.",
        Text::ContinueOn => "Über {channel} fortsetzen",
        Text::OpenChannel => "{channel} öffnen",
        Text::SendByHand => {
            "Oder senden Sie {code} an {to}. Der Code funktioniert nur einmal und ist {minutes} Minuten lang gültig."
        }
        Text::TryAgain => "Erneut versuchen",
        Text::Dismiss => "Ausblenden",
        Text::FromArticle => "Quelle: {article}",
        Text::EmailChannel => "E-Mail",
        Text::AwayNotice => "Das Team ist gerade nicht da und ab {time} wieder erreichbar.",
        Text::AwayAskEmail => {
            "Hinterlassen Sie Ihre E-Mail-Adresse, dann antwortet Ihnen dort eine Person. Wir senden Ihnen einen Code, um zu bestätigen, dass es Ihre ist."
        }
        Text::EmailAddress => "E-Mail-Adresse",
        Text::ReplyByEmail => "Antwort per E-Mail erhalten",
        Text::PreChatIntro => "Bevor wir beginnen: Ein paar Angaben helfen uns, Ihnen zu helfen.",
        Text::StartChat => "Chat starten",
        Text::FieldRequired => "Bitte füllen Sie das Feld {field} aus.",
        Text::EmailInvalid => "Bitte geben Sie eine E-Mail-Adresse wie name@example.com ein.",
        Text::Optional => "optional",
        Text::ErrUnknownSite => {
            "Dieser Chat ist für diese Website noch nicht eingerichtet, daher können keine Nachrichten zugestellt werden."
        }
        Text::ErrOriginNotAllowed => {
            "Der Chat ist für die Adresse dieser Seite nicht aktiviert, daher können keine Nachrichten zugestellt werden."
        }
        Text::ErrSessionEnded => "Ihre Chatsitzung ist beendet. Laden Sie die Seite neu, um eine neue zu starten.",
        Text::ErrTooLongLimit => "Diese Nachricht ist zu lang: Erlaubt sind höchstens {limit} Zeichen.",
        Text::ErrTooLong => "Diese Nachricht ist zu lang.",
        Text::ErrRateLimitedFor => {
            "Sie senden Nachrichten sehr schnell. Bitte warten Sie {seconds} Sekunden und versuchen Sie es erneut."
        }
        Text::ErrRateLimited => {
            "Sie senden Nachrichten sehr schnell. Bitte warten Sie einen Moment und versuchen Sie es erneut."
        }
        Text::ErrBusyFor => "Gerade chatten sehr viele Menschen. Neuer Versuch in {seconds} Sekunden.",
        Text::ErrRefused => "Diese Nachricht konnte nicht gesendet werden: {reason}.",
        Text::ErrIdentity => {
            "Wir konnten nicht bestätigen, mit welchem Konto Sie angemeldet sind, daher bleibt dieser Chat vorerst anonym."
        }
        Text::ErrCodeInvalid => "Dieser Code ist nicht korrekt. Prüfen Sie die E-Mail und versuchen Sie es erneut.",
        Text::ErrCodeExpired => "Dieser Code ist abgelaufen. Fordern Sie einen neuen an.",
        Text::ErrCodeUsed => "Dieser Code wurde bereits verwendet. Fordern Sie einen neuen an.",
        Text::ErrCodeAttempts => "Zu viele falsche Codes. Fordern Sie einen neuen an.",
        Text::ErrChannelUnavailable => "Dieser Kanal ist für diese Website derzeit nicht verfügbar.",
        Text::ErrEmail => "Wir konnten gerade keine E-Mail senden. Bitte versuchen Sie es in Kürze erneut.",
        Text::ErrInternal => "Bei uns ist etwas schiefgelaufen. Ihre Nachricht ist sicher; wir versuchen es weiter.",
        Text::ErrUnreachable => "Wir konnten den Server nicht erreichen. Bitte versuchen Sie es erneut.",
        Text::ErrSendCode => "Wir konnten den Code gerade nicht senden. Bitte versuchen Sie es erneut.",
        Text::ErrCheckCode => "Wir konnten den Code gerade nicht prüfen. Bitte versuchen Sie es erneut.",
        Text::ErrGetLink => "Wir konnten gerade keinen Code abrufen. Bitte versuchen Sie es erneut.",
        Text::ErrSaveRating => "Wir konnten Ihre Bewertung gerade nicht speichern. Bitte versuchen Sie es erneut.",
        Text::ErrSaveFeedback => "Wir konnten Ihr Feedback gerade nicht speichern. Bitte versuchen Sie es erneut.",
    }
}

/// French.
fn fr(key: Text) -> &'static str {
    match key {
        Text::OpenChat => "Ouvrir le chat",
        Text::OpenChatOneUnread => "Ouvrir le chat (1 réponse non lue)",
        Text::OpenChatUnread => "Ouvrir le chat ({n} réponses non lues)",
        Text::CloseChat => "Fermer le chat",
        Text::PanelLabel => "Discuter avec le support",
        Text::Support => "Support",
        Text::StatusUnavailable => "Indisponible",
        Text::StatusReconnecting => "Reconnexion…",
        Text::StatusConnecting => "Connexion…",
        Text::StatusWaiting => "En attente d’une personne de l’équipe",
        Text::StatusBot => "Réponses de notre centre d’aide, ou d’une personne",
        Text::StatusAway => "Absent, de retour {time}",
        Text::ConversationLabel => "Conversation",
        Text::Greeting => {
            "Bonjour ! Posez votre question et je chercherai dans notre centre d’aide. Vous pouvez aussi toujours parler à une personne de l’équipe."
        }
        Text::Writing => "{name} est en train d’écrire…",
        Text::TalkToPerson => "Parler à une personne",
        Text::MessageLabel => "Votre message",
        Text::Placeholder => "Posez votre question…",
        Text::Send => "Envoyer",
        Text::TooLongCount => "{n} / {max} caractères : veuillez raccourcir votre message.",
        Text::ContinueAnyDevice => "Continuer sur n’importe quel appareil",
        Text::VerifyOffer => {
            "Vous voulez reprendre cette conversation sur n’importe quel appareil ? Nous pouvons envoyer un code à {email}."
        }
        Text::SendCode => "Envoyer le code",
        Text::NoThanks => "Non merci",
        Text::SendingCode => "Envoi d’un code…",
        Text::EnterCode => "Saisissez le code à 6 chiffres envoyé à {address}",
        Text::Verify => "Vérifier",
        Text::CheckingCode => "Vérification du code…",
        Text::Verified => {
            "Adresse {email} vérifiée : cette conversation vous suit désormais sur tous les appareils où vous l’utilisez."
        }
        Text::SendNewCode => "Envoyer un nouveau code",
        Text::NotNow => "Pas maintenant",
        Text::DidThatHelp => "Cela vous a-t-il aidé ?",
        Text::Yes => "Oui",
        Text::No => "Non",
        Text::GladItHelped => "Ravis d’avoir pu vous aider. Autre chose ?",
        Text::SorryNotHelped => {
            "Désolés de ne pas avoir pu vous aider. Reformulez votre question ou parlez à une personne."
        }
        Text::HowDidWeDo => "Comment s’est passé cet échange ?",
        Text::ScoreOfFive => "{score} sur 5",
        Text::ThanksForRating => "Merci pour votre note.",
        Text::ContinueElsewhere => "Continuer sur un autre canal",
        Text::ContinuePitch => "Poursuivez là où cela vous convient : cette conversation vous suit.",
        Text::Cancel => "Annuler",
        Text::GettingLink => "Récupération de votre lien {channel}…",
        Text::ConnectedOn => {
            "Connecté via {channel} : poursuivez-y quand vous voulez. Les réponses vous y parviendront."
        }
        Text::ContinueOn => "Continuer via {channel}",
        Text::OpenChannel => "Ouvrir {channel}",
        Text::SendByHand => "Ou envoyez {code} à {to}. Le code ne fonctionne qu’une fois, pendant {minutes} minutes.",
        Text::TryAgain => "Réessayer",
        Text::Dismiss => "Ignorer",
        Text::FromArticle => "Source : {article}",
        Text::EmailChannel => "E-mail",
        Text::AwayNotice => "L’équipe est absente pour le moment et sera de retour {time}.",
        Text::AwayAskEmail => {
            "Laissez votre adresse e-mail et une personne vous y répondra. Nous vous enverrons un code pour confirmer qu’elle est bien à vous."
        }
        Text::EmailAddress => "Adresse e-mail",
        Text::ReplyByEmail => "Me répondre par e-mail",
        Text::PreChatIntro => "Avant de commencer, quelques informations nous aideront à mieux vous aider.",
        Text::StartChat => "Démarrer le chat",
        Text::FieldRequired => "Veuillez remplir le champ {field}.",
        Text::EmailInvalid => "Veuillez saisir une adresse e-mail comme nom@exemple.com.",
        Text::Optional => "facultatif",
        Text::ErrUnknownSite => {
            "Ce chat n’est pas encore configuré pour ce site : les messages ne peuvent pas être distribués."
        }
        Text::ErrOriginNotAllowed => {
            "Le chat n’est pas activé à l’adresse de cette page : les messages ne peuvent pas être distribués."
        }
        Text::ErrSessionEnded => "Votre session de chat est terminée. Rechargez la page pour en démarrer une nouvelle.",
        Text::ErrTooLongLimit => "Ce message est trop long : la limite est de {limit} caractères.",
        Text::ErrTooLong => "Ce message est trop long.",
        Text::ErrRateLimitedFor => {
            "Vous envoyez des messages très vite. Veuillez patienter {seconds} secondes, puis réessayez."
        }
        Text::ErrRateLimited => "Vous envoyez des messages très vite. Veuillez patienter un instant, puis réessayez.",
        Text::ErrBusyFor => "Beaucoup de monde discute en ce moment. Nouvel essai dans {seconds} secondes.",
        Text::ErrRefused => "Ce message n’a pas pu être envoyé : {reason}.",
        Text::ErrIdentity => {
            "Nous n’avons pas pu confirmer le compte avec lequel vous êtes connecté : ce chat reste anonyme pour l’instant."
        }
        Text::ErrCodeInvalid => "Ce code est incorrect. Vérifiez l’e-mail et réessayez.",
        Text::ErrCodeExpired => "Ce code a expiré. Demandez-en un nouveau.",
        Text::ErrCodeUsed => "Ce code a déjà été utilisé. Demandez-en un nouveau.",
        Text::ErrCodeAttempts => "Trop de codes incorrects. Demandez-en un nouveau.",
        Text::ErrChannelUnavailable => "Ce canal n’est pas disponible pour ce site pour le moment.",
        Text::ErrEmail => "Nous n’avons pas pu envoyer d’e-mail pour le moment. Veuillez réessayer d’ici peu.",
        Text::ErrInternal => {
            "Un problème est survenu de notre côté. Votre message est en sécurité ; nous continuons d’essayer."
        }
        Text::ErrUnreachable => "Nous n’avons pas pu joindre le serveur. Veuillez réessayer.",
        Text::ErrSendCode => "Nous n’avons pas pu envoyer le code pour le moment. Veuillez réessayer.",
        Text::ErrCheckCode => "Nous n’avons pas pu vérifier le code pour le moment. Veuillez réessayer.",
        Text::ErrGetLink => "Nous n’avons pas pu obtenir de code pour le moment. Veuillez réessayer.",
        Text::ErrSaveRating => "Nous n’avons pas pu enregistrer votre note pour le moment. Veuillez réessayer.",
        Text::ErrSaveFeedback => "Nous n’avons pas pu enregistrer votre avis pour le moment. Veuillez réessayer.",
    }
}

/// Japanese.
fn ja(key: Text) -> &'static str {
    match key {
        Text::OpenChat => "チャットを開く",
        Text::OpenChatOneUnread => "チャットを開く（未読の返信1件）",
        Text::OpenChatUnread => "チャットを開く（未読の返信{n}件）",
        Text::CloseChat => "チャットを閉じる",
        Text::PanelLabel => "サポートとチャット",
        Text::Support => "サポート",
        Text::StatusUnavailable => "利用できません",
        Text::StatusReconnecting => "再接続しています…",
        Text::StatusConnecting => "接続しています…",
        Text::StatusWaiting => "チームの担当者をお待ちください",
        Text::StatusBot => "ヘルプセンターの情報、または担当者がお答えします",
        Text::StatusAway => "不在です（{time}に戻ります）",
        Text::ConversationLabel => "会話",
        Text::Greeting => {
            "こんにちは！ご質問いただければ、ヘルプセンターからお答えを探します。チームの担当者にもいつでもおつなぎできます。"
        }
        Text::Writing => "{name}が入力しています…",
        Text::TalkToPerson => "担当者と話す",
        Text::MessageLabel => "メッセージ",
        Text::Placeholder => "ご質問をどうぞ…",
        Text::Send => "送信",
        Text::TooLongCount => "{n} / {max}文字：メッセージを短くしてください。",
        Text::ContinueAnyDevice => "どのデバイスからでも続ける",
        Text::VerifyOffer => "この会話をどのデバイスからでも続けますか？{email}にコードをお送りできます。",
        Text::SendCode => "コードを送信",
        Text::NoThanks => "結構です",
        Text::SendingCode => "コードを送信しています…",
        Text::EnterCode => "{address}にお送りした6桁のコードを入力してください",
        Text::Verify => "確認",
        Text::CheckingCode => "コードを確認しています…",
        Text::Verified => "{email}を確認しました。この会話は、ご利用になるどのデバイスにも引き継がれます。",
        Text::SendNewCode => "新しいコードを送信",
        Text::NotNow => "後で",
        Text::DidThatHelp => "お役に立ちましたか？",
        Text::Yes => "はい",
        Text::No => "いいえ",
        Text::GladItHelped => "お役に立ててよかったです。ほかに何かありますか？",
        Text::SorryNotHelped => "お役に立てず申し訳ありません。別の言い方で質問するか、担当者とお話しください。",
        Text::HowDidWeDo => "今回の対応はいかがでしたか？",
        Text::ScoreOfFive => "5点中{score}点",
        Text::ThanksForRating => "ご評価ありがとうございます。",
        Text::ContinueElsewhere => "別のチャネルで続ける",
        Text::ContinuePitch => "ご都合のよい場所で続けられます。この会話も引き継がれます。",
        Text::Cancel => "キャンセル",
        Text::GettingLink => "{channel}のリンクを取得しています…",
        Text::ConnectedOn => "{channel}に接続しました。いつでもそちらで続けられます。返信もそちらに届きます。",
        Text::ContinueOn => "{channel}で続ける",
        Text::OpenChannel => "{channel}を開く",
        Text::SendByHand => "または、{code}を{to}に送信してください。コードは{minutes}分間、1回のみ有効です。",
        Text::TryAgain => "再試行",
        Text::Dismiss => "閉じる",
        Text::FromArticle => "出典：{article}",
        Text::EmailChannel => "メール",
        Text::AwayNotice => "現在チームは不在です。{time}に戻ります。",
        Text::AwayAskEmail => {
            "メールアドレスをご入力いただければ、担当者がメールで返信します。ご本人確認のため、コードをお送りします。"
        }
        Text::EmailAddress => "メールアドレス",
        Text::ReplyByEmail => "メールで返信を受け取る",
        Text::PreChatIntro => "開始前にいくつかの情報をお知らせください。よりスムーズにご案内できます。",
        Text::StartChat => "チャットを開始",
        Text::FieldRequired => "{field}を入力してください。",
        Text::EmailInvalid => "name@example.comのような形式でメールアドレスを入力してください。",
        Text::Optional => "任意",
        Text::ErrUnknownSite => "このサイトではチャットがまだ設定されていないため、メッセージを配信できません。",
        Text::ErrOriginNotAllowed => {
            "このページのアドレスではチャットが有効になっていないため、メッセージを配信できません。"
        }
        Text::ErrSessionEnded => "チャットセッションが終了しました。新しく始めるには、ページを再読み込みしてください。",
        Text::ErrTooLongLimit => "メッセージが長すぎます。上限は{limit}文字です。",
        Text::ErrTooLong => "メッセージが長すぎます。",
        Text::ErrRateLimitedFor => "メッセージの送信間隔が短すぎます。{seconds}秒待ってから、もう一度お試しください。",
        Text::ErrRateLimited => "メッセージの送信間隔が短すぎます。少し待ってから、もう一度お試しください。",
        Text::ErrBusyFor => "ただいま大変混み合っています。{seconds}秒後にもう一度接続します。",
        Text::ErrRefused => "メッセージを送信できませんでした（{reason}）。",
        Text::ErrIdentity => "ログイン中のアカウントを確認できなかったため、このチャットは当面匿名のままになります。",
        Text::ErrCodeInvalid => "コードが正しくありません。メールを確認して、もう一度お試しください。",
        Text::ErrCodeExpired => "コードの有効期限が切れています。新しいコードをリクエストしてください。",
        Text::ErrCodeUsed => "このコードはすでに使用されています。新しいコードをリクエストしてください。",
        Text::ErrCodeAttempts => "誤ったコードの入力が多すぎます。新しいコードをリクエストしてください。",
        Text::ErrChannelUnavailable => "このチャネルは現在このサイトではご利用いただけません。",
        Text::ErrEmail => "メールを送信できませんでした。しばらくしてから、もう一度お試しください。",
        Text::ErrInternal => "こちら側で問題が発生しました。メッセージは失われていません。引き続き再試行します。",
        Text::ErrUnreachable => "サーバーに接続できませんでした。もう一度お試しください。",
        Text::ErrSendCode => "コードを送信できませんでした。もう一度お試しください。",
        Text::ErrCheckCode => "コードを確認できませんでした。もう一度お試しください。",
        Text::ErrGetLink => "コードを取得できませんでした。もう一度お試しください。",
        Text::ErrSaveRating => "評価を保存できませんでした。もう一度お試しください。",
        Text::ErrSaveFeedback => "フィードバックを保存できませんでした。もう一度お試しください。",
    }
}

/// Arabic.
fn ar(key: Text) -> &'static str {
    match key {
        Text::OpenChat => "فتح المحادثة",
        Text::OpenChatOneUnread => "فتح المحادثة (رد واحد غير مقروء)",
        Text::OpenChatUnread => "فتح المحادثة (الردود غير المقروءة: {n})",
        Text::CloseChat => "إغلاق المحادثة",
        Text::PanelLabel => "الدردشة مع الدعم",
        Text::Support => "الدعم",
        Text::StatusUnavailable => "غير متاح",
        Text::StatusReconnecting => "جارٍ إعادة الاتصال…",
        Text::StatusConnecting => "جارٍ الاتصال…",
        Text::StatusWaiting => "في انتظار أحد أعضاء الفريق",
        Text::StatusBot => "إجابات من مركز المساعدة، أو من أحد أعضاء الفريق",
        Text::StatusAway => "غير متاحين حاليًا، نعود يوم {time}",
        Text::ConversationLabel => "المحادثة",
        Text::Greeting => {
            "مرحبًا! اطرح سؤالك وسأبحث عن الإجابة في مركز المساعدة. ويمكنك دائمًا التحدث إلى أحد أعضاء الفريق."
        }
        Text::Writing => "{name} يكتب…",
        Text::TalkToPerson => "التحدث إلى شخص",
        Text::MessageLabel => "رسالتك",
        Text::Placeholder => "اطرح سؤالاً…",
        Text::Send => "إرسال",
        Text::TooLongCount => "عدد الأحرف {n} / {max}: يُرجى اختصار رسالتك.",
        Text::ContinueAnyDevice => "المتابعة على أي جهاز",
        Text::VerifyOffer => "هل تريد متابعة هذه المحادثة على أي جهاز؟ يمكننا إرسال رمز إلى {email}.",
        Text::SendCode => "إرسال الرمز",
        Text::NoThanks => "لا، شكرًا",
        Text::SendingCode => "جارٍ إرسال رمز…",
        Text::EnterCode => "أدخل الرمز المكوّن من 6 أرقام الذي أرسلناه إلى {address}",
        Text::Verify => "تحقّق",
        Text::CheckingCode => "جارٍ التحقق من الرمز…",
        Text::Verified => "تم التحقق من {email}: ستنتقل هذه المحادثة معك الآن إلى أي جهاز تستخدمها عليه.",
        Text::SendNewCode => "إرسال رمز جديد",
        Text::NotNow => "ليس الآن",
        Text::DidThatHelp => "هل كان ذلك مفيدًا؟",
        Text::Yes => "نعم",
        Text::No => "لا",
        Text::GladItHelped => "يسعدنا أن ذلك ساعدك. هل من شيء آخر؟",
        Text::SorryNotHelped => "نأسف لأن ذلك لم يساعدك. جرّب صياغة سؤالك بطريقة أخرى، أو تحدّث إلى شخص.",
        Text::HowDidWeDo => "كيف كانت تجربتك معنا؟",
        Text::ScoreOfFive => "{score} من 5",
        Text::ThanksForRating => "شكرًا على تقييمك.",
        Text::ContinueElsewhere => "المتابعة عبر قناة أخرى",
        Text::ContinuePitch => "تابع حيثما يناسبك، وستنتقل هذه المحادثة معك.",
        Text::Cancel => "إلغاء",
        Text::GettingLink => "جارٍ الحصول على رابط {channel}…",
        Text::ConnectedOn => "تم الاتصال عبر {channel}: تابع هناك متى شئت، وستصلك الردود هناك.",
        Text::ContinueOn => "المتابعة عبر {channel}",
        Text::OpenChannel => "فتح {channel}",
        Text::SendByHand => "أو أرسل {code} إلى {to}. يعمل الرمز مرة واحدة فقط، لمدة {minutes} دقيقة.",
        Text::TryAgain => "إعادة المحاولة",
        Text::Dismiss => "إخفاء",
        Text::FromArticle => "المصدر: {article}",
        Text::EmailChannel => "البريد الإلكتروني",
        Text::AwayNotice => "الفريق غير متاح الآن، وسيعود يوم {time}.",
        Text::AwayAskEmail => {
            "اترك بريدك الإلكتروني وسيرد عليك أحد أعضاء الفريق هناك. سنرسل إليك رمزًا لتأكيد أنه بريدك."
        }
        Text::EmailAddress => "عنوان البريد الإلكتروني",
        Text::ReplyByEmail => "الرد عليّ عبر البريد الإلكتروني",
        Text::PreChatIntro => "قبل أن نبدأ، تساعدنا بعض التفاصيل على خدمتك بشكل أفضل.",
        Text::StartChat => "بدء المحادثة",
        Text::FieldRequired => "يُرجى ملء حقل {field}.",
        Text::EmailInvalid => "يُرجى إدخال عنوان بريد إلكتروني مثل name@example.com.",
        Text::Optional => "اختياري",
        Text::ErrUnknownSite => "لم يتم إعداد هذه المحادثة لهذا الموقع بعد، لذا لا يمكن توصيل الرسائل.",
        Text::ErrOriginNotAllowed => "المحادثة غير مفعّلة على عنوان هذه الصفحة، لذا لا يمكن توصيل الرسائل.",
        Text::ErrSessionEnded => "انتهت جلسة المحادثة. أعد تحميل الصفحة لبدء جلسة جديدة.",
        Text::ErrTooLongLimit => "هذه الرسالة طويلة جدًا: الحد الأقصى لعدد الأحرف هو {limit}.",
        Text::ErrTooLong => "هذه الرسالة طويلة جدًا.",
        Text::ErrRateLimitedFor => "أنت ترسل الرسائل بسرعة كبيرة. يُرجى الانتظار {seconds} ثانية ثم المحاولة مرة أخرى.",
        Text::ErrRateLimited => "أنت ترسل الرسائل بسرعة كبيرة. يُرجى الانتظار قليلاً ثم المحاولة مرة أخرى.",
        Text::ErrBusyFor => "يتحدث كثيرون معنا الآن. سنحاول مجددًا بعد {seconds} ثانية.",
        Text::ErrRefused => "تعذّر إرسال هذه الرسالة: {reason}.",
        Text::ErrIdentity => "تعذّر علينا تأكيد الحساب الذي سجّلت الدخول به، لذا ستبقى هذه المحادثة مجهولة الهوية حاليًا.",
        Text::ErrCodeInvalid => "هذا الرمز غير صحيح. تحقّق من البريد الإلكتروني وحاول مرة أخرى.",
        Text::ErrCodeExpired => "انتهت صلاحية هذا الرمز. اطلب رمزًا جديدًا.",
        Text::ErrCodeUsed => "سبق استخدام هذا الرمز. اطلب رمزًا جديدًا.",
        Text::ErrCodeAttempts => "عدد كبير جدًا من الرموز الخاطئة. اطلب رمزًا جديدًا.",
        Text::ErrChannelUnavailable => "هذه القناة غير متاحة لهذا الموقع حاليًا.",
        Text::ErrEmail => "تعذّر علينا إرسال بريد إلكتروني الآن. يُرجى المحاولة مرة أخرى بعد قليل.",
        Text::ErrInternal => "حدث خطأ من جهتنا. رسالتك محفوظة، وسنواصل المحاولة.",
        Text::ErrUnreachable => "تعذّر علينا الوصول إلى الخادم. يُرجى المحاولة مرة أخرى.",
        Text::ErrSendCode => "تعذّر علينا إرسال الرمز الآن. يُرجى المحاولة مرة أخرى.",
        Text::ErrCheckCode => "تعذّر علينا التحقق من الرمز الآن. يُرجى المحاولة مرة أخرى.",
        Text::ErrGetLink => "تعذّر علينا الحصول على رمز الآن. يُرجى المحاولة مرة أخرى.",
        Text::ErrSaveRating => "تعذّر علينا حفظ تقييمك الآن. يُرجى المحاولة مرة أخرى.",
        Text::ErrSaveFeedback => "تعذّر علينا حفظ ملاحظاتك الآن. يُرجى المحاولة مرة أخرى.",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_served_table_is_checked_entry_by_entry() {
        for (i, key) in Text::ALL.into_iter().enumerate() {
            assert_eq!(key as usize, i, "Text::ALL is in declaration order");
        }
        let german = Words::from_table(Locale::De.table());
        assert_eq!(german.text(Text::Send), "Senden");
        assert_eq!(Words::default().text(Text::Send), "Send");
        let mut broken = Locale::Fr.table();
        broken[Text::Writing as usize] = "{nom} écrit…".into();
        broken[Text::Send as usize] = " ".into();
        let french = Words::from_table(broken);
        assert_eq!(
            french.text(Text::Writing),
            en(Text::Writing),
            "a lost placeholder falls back"
        );
        assert_eq!(french.text(Text::Send), "Send");
        assert_eq!(french.text(Text::Cancel), Locale::Fr.text(Text::Cancel));
        assert_eq!(
            Words::from_table(vec!["x".into()]),
            Words::default(),
            "wrong length: English"
        );
    }

    #[test]
    fn every_translation_keeps_the_placeholders_and_is_not_blank() {
        for locale in Locale::ALL {
            for key in Text::ALL {
                let text = locale.text(key);
                assert!(!text.trim().is_empty(), "{locale:?} {key:?} is blank");
                assert_eq!(slots(text), slots(en(key)), "{locale:?} {key:?}: {text}");
                assert!(!text.contains('<'), "{locale:?} {key:?} holds markup");
            }
        }
    }

    #[test]
    fn every_locale_but_english_is_translated() {
        for locale in Locale::ALL.into_iter().filter(|l| *l != Locale::En) {
            // Short words can coincide (e.g. "No" in Spanish); whole sentences cannot.
            let same: Vec<Text> = Text::ALL
                .into_iter()
                .filter(|key| locale.text(*key) == en(*key) && en(*key).len() > 12)
                .collect();
            assert!(same.is_empty(), "{locale:?} still says in English: {same:?}");
        }
    }

    #[test]
    fn negotiation_takes_the_first_language_the_widget_speaks() {
        let pick = |tags: &[&str]| Locale::negotiate(tags.iter().copied());
        assert_eq!(pick(&["pt-BR", "es-MX", "en"]), (Locale::Es, "es-MX".to_owned()));
        assert_eq!(pick(&["ar_EG"]), (Locale::Ar, "ar-EG".to_owned()));
        assert_eq!(pick(&["JA"]).0, Locale::Ja);
        assert_eq!(pick(&["zh-Hant", "pt"]), (Locale::En, "en".to_owned()));
        assert_eq!(pick(&[]).0, Locale::En);
        assert!(Locale::Ar.rtl() && !Locale::Ja.rtl());
    }

    #[test]
    fn templates_split_into_text_and_slots() {
        let parts: Vec<Segment> = segments("Or send {code} to {to}.").collect();
        assert_eq!(
            parts,
            vec![
                Segment::Text("Or send "),
                Segment::Slot("code"),
                Segment::Text(" to "),
                Segment::Slot("to"),
                Segment::Text("."),
            ]
        );
        assert_eq!(
            Words::default().fill(Text::Writing, &[("name", "Priya")]),
            "Priya is writing…"
        );
        // Text may start with a character of more than one byte.
        assert_eq!(
            segments("¡Hola {name}!").collect::<Vec<_>>(),
            vec![Segment::Text("¡Hola "), Segment::Slot("name"), Segment::Text("!")]
        );
        assert_eq!(
            Words::from_table(Locale::Ja.table()).fill(Text::Writing, &[("name", "Priya")]),
            "Priyaが入力しています…"
        );
        // An unclosed brace is text, not a slot.
        assert_eq!(
            segments("a {b").collect::<Vec<_>>(),
            vec![Segment::Text("a "), Segment::Text("{b")]
        );
    }
}
