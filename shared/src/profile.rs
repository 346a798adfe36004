//! One customer, one profile: what a profile holds and the rules for joining two of them.
//!
//! A profile gathers a person's identities (each verified or only claimed, with when and how),
//! the traits the site passes (name, plan, lifetime value, any custom key) and the conversations
//! they had. Profiles join only on proof: a verified identity that two profiles share (a
//! site-signed user id, an email whose one-time code was entered) merges them, a claim never
//! does. Every merge leaves a `MergeRecord`, enough to undo it exactly.
//!
//! The rules, all pure functions here so both sides and the tests agree:
//! - verified facts win over claims (an identity, a trait);
//! - between facts of equal standing, the newest value of a trait wins, unless the site set
//!   another rule for that trait (`keep_first`, `max`);
//! - conversations join into one timeline ordered by time, each message once, marked with the
//!   conversation it came from so the join can be undone;
//! - two profiles that hold *different* verified user ids are two people: they never merge.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::identity::{Identified, IdentityKey, IdentityKind, Proof};
use crate::wire::Message;

/// One identity of a profile.
#[derive(Serialize, Deserialize, Clone, PartialEq, Debug)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct IdentityRecord {
    #[serde(flatten)]
    pub key: IdentityKey,
    pub verified: bool,
    /// How it was established (for claims: `claimed`).
    pub proof: Proof,
    /// When, in milliseconds since the Unix epoch.
    pub at: u64,
}

/// One trait value and where it came from.
#[derive(Serialize, Deserialize, Clone, PartialEq, Debug)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct TraitValue {
    pub value: Value,
    pub at: u64,
    /// Vouched for by the site (in a signed identity token, or through the admin API).
    pub verified: bool,
}

/// How a site wants a trait's conflicting values settled (between values of equal standing).
#[derive(Serialize, Deserialize, Clone, Copy, PartialEq, Eq, Debug, Default)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum TraitRule {
    /// The most recently set value wins.
    #[default]
    Newest,
    /// The first value ever set is kept (e.g. `signed_up_at`).
    KeepFirst,
    /// The larger number wins (e.g. `lifetime_value`).
    Max,
}

/// Per-site trait rules; traits not named use `TraitRule::Newest`.
pub type TraitRules = BTreeMap<String, TraitRule>;

#[derive(Serialize, Deserialize, Clone, PartialEq, Debug)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct Profile {
    pub id: String,
    pub created_at: u64,
    pub identities: Vec<IdentityRecord>,
    pub traits: BTreeMap<String, TraitValue>,
    /// Conversation ids, the one new messages go to (the active one) first.
    pub conversations: Vec<String>,
    /// Why staff should look at this profile, if they should: e.g. `unauthenticated_email`, an
    /// email whose sender could not be authenticated, so it was not joined to anyone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub review: Option<String>,
}

impl Profile {
    /// A new profile for a widget session and its conversation.
    pub fn for_session(id: String, visitor: &str, conversation: &str, now: u64) -> Profile {
        Profile {
            id,
            created_at: now,
            identities: vec![IdentityRecord {
                key: IdentityKey {
                    kind: IdentityKind::Session,
                    value: visitor.to_owned(),
                },
                verified: true,
                proof: Proof::Session,
                at: now,
            }],
            traits: BTreeMap::new(),
            conversations: vec![conversation.to_owned()],
            review: None,
        }
    }

    pub fn active_conversation(&self) -> Option<&str> {
        self.conversations.first().map(String::as_str)
    }

    pub fn verified_keys(&self) -> impl Iterator<Item = &IdentityKey> {
        self.identities.iter().filter(|i| i.verified).map(|i| &i.key)
    }

    fn identity_mut(&mut self, key: &IdentityKey) -> Option<&mut IdentityRecord> {
        self.identities.iter_mut().find(|i| &i.key == key)
    }

    /// Adds an identity, or upgrades a claim of it to verified. A verified identity is never
    /// downgraded by a later claim.
    pub fn add_identity(&mut self, key: IdentityKey, proof: Proof, at: u64) {
        let verified = proof.verifies();
        match self.identity_mut(&key) {
            Some(existing) if existing.verified || !verified => {}
            Some(existing) => {
                existing.verified = true;
                existing.proof = proof;
                existing.at = at;
            }
            None => self.identities.push(IdentityRecord {
                key,
                verified,
                proof,
                at,
            }),
        }
    }

    /// Sets a trait by the precedence rules.
    pub fn set_trait(&mut self, name: &str, incoming: TraitValue, rules: &TraitRules) {
        let rule = rules.get(name).copied().unwrap_or_default();
        let keep_existing = self
            .traits
            .get(name)
            .is_some_and(|existing| !prefer(&incoming, existing, rule));
        if !keep_existing {
            self.traits.insert(name.to_owned(), incoming);
        }
    }

    /// Applies what an identify call established: its identities and traits.
    pub fn apply(&mut self, identified: &Identified, rules: &TraitRules, now: u64) {
        for key in &identified.verified {
            self.add_identity(key.clone(), identified.proof.clone(), now);
        }
        for key in &identified.claimed {
            self.add_identity(key.clone(), Proof::Claimed, now);
        }
        for (name, value) in &identified.traits {
            let incoming = TraitValue {
                value: value.clone(),
                at: now,
                verified: identified.traits_verified,
            };
            self.set_trait(name, incoming, rules);
        }
    }

    /// The values of the verified identities of `kind` this profile holds.
    fn verified_of(&self, kind: IdentityKind) -> Vec<&str> {
        self.identities
            .iter()
            .filter(|i| i.verified && i.key.kind == kind)
            .map(|i| i.key.value.as_str())
            .collect()
    }
}

/// Whether `incoming` should replace `existing` for a trait ruled by `rule`.
fn prefer(incoming: &TraitValue, existing: &TraitValue, rule: TraitRule) -> bool {
    if incoming.verified != existing.verified {
        return incoming.verified;
    }
    match rule {
        TraitRule::Newest => incoming.at >= existing.at,
        TraitRule::KeepFirst => incoming.at < existing.at,
        TraitRule::Max => match (incoming.value.as_f64(), existing.value.as_f64()) {
            (Some(a), Some(b)) => a > b,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => incoming.at >= existing.at,
        },
    }
}

/// Most people one import request may carry.
pub const MAX_IMPORT_PEOPLE: usize = 50_000;

/// One person in a profile import: the site's user id, and optionally their email, phone and
/// traits, all vouched for by the site's admin.
#[derive(Serialize, Deserialize, Clone, PartialEq, Debug)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct ImportPerson {
    pub user_id: IdentityKey,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<IdentityKey>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<IdentityKey>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub traits: BTreeMap<String, Value>,
}

impl ImportPerson {
    /// Its verified identities, the user id first.
    pub fn keys(&self) -> impl Iterator<Item = &IdentityKey> {
        std::iter::once(&self.user_id).chain(&self.email).chain(&self.phone)
    }
}

/// Parses a profile import: JSON Lines of `{"user_id", "email"?, "phone"?, "traits"?}`. All or
/// nothing: the first bad line refuses the upload, naming the line and field.
pub fn parse_import(text: &str) -> Result<Vec<ImportPerson>, crate::article::ArticleError> {
    use crate::article::ArticleError;
    let mut people = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let error = |field: Option<&str>, message: String| ArticleError {
            line: index + 1,
            field: field.map(str::to_owned),
            message,
        };
        let value: Value = serde_json::from_str(line).map_err(|e| error(None, format!("not valid JSON: {e}")))?;
        let Value::Object(object) = value else {
            return Err(error(None, "each line must be a JSON object".into()));
        };
        let key = |field: &str, kind: IdentityKind, required: bool| -> Result<Option<IdentityKey>, ArticleError> {
            match object.get(field) {
                None | Some(Value::Null) if !required => Ok(None),
                None | Some(Value::Null) => Err(error(Some(field), format!("`{field}` is required"))),
                Some(Value::String(text)) => IdentityKey::new(kind, text)
                    .map(Some)
                    .map_err(|why| error(Some(field), why)),
                Some(_) => Err(error(Some(field), format!("`{field}` must be a string"))),
            }
        };
        let user_id = key("user_id", IdentityKind::UserId, true)?.expect("required");
        let email = key("email", IdentityKind::Email, false)?;
        let phone = key("phone", IdentityKind::Phone, false)?;
        let traits: BTreeMap<String, Value> = match object.get("traits") {
            None | Some(Value::Null) => BTreeMap::new(),
            Some(Value::Object(traits)) => traits.clone().into_iter().collect(),
            Some(_) => return Err(error(Some("traits"), "`traits` must be an object".into())),
        };
        crate::identity::check_traits(&traits).map_err(|why| error(Some("traits"), why))?;
        if !seen.insert(user_id.value.clone()) {
            return Err(error(
                Some("user_id"),
                format!("user {:?} appears twice", user_id.value),
            ));
        }
        people.push(ImportPerson {
            user_id,
            email,
            phone,
            traits,
        });
        if people.len() > MAX_IMPORT_PEOPLE {
            return Err(error(
                None,
                format!("too many people: at most {MAX_IMPORT_PEOPLE} per request; split the file"),
            ));
        }
    }
    Ok(people)
}

impl Profile {
    /// Applies an imported person: identities verified by the admin (except `taken` ones, held
    /// verified by other profiles), traits as verified values.
    pub fn apply_import(&mut self, person: &ImportPerson, taken: &[&IdentityKey], rules: &TraitRules, now: u64) {
        for key in person.keys() {
            if !taken.contains(&key) {
                self.add_identity(key.clone(), Proof::Import, now);
            }
        }
        for (name, value) in &person.traits {
            let incoming = TraitValue {
                value: value.clone(),
                at: now,
                verified: true,
            };
            self.set_trait(name, incoming, rules);
        }
    }
}

/// Why two profiles may not be merged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MergeError {
    #[error("the profiles hold different verified user ids ({0} and {1}): they are two people")]
    DifferentPeople(String, String),
    #[error("a profile cannot be merged with itself")]
    SameProfile,
}

/// Whether `a` and `b` can be the same person: not if each holds a verified user id and the ids
/// differ.
pub fn compatible(a: &Profile, b: &Profile) -> Result<(), MergeError> {
    if a.id == b.id {
        return Err(MergeError::SameProfile);
    }
    let (ours, theirs) = (a.verified_of(IdentityKind::UserId), b.verified_of(IdentityKind::UserId));
    match (ours.first(), theirs.first()) {
        (Some(x), Some(y)) if !theirs.iter().any(|t| ours.contains(t)) => {
            Err(MergeError::DifferentPeople((*x).to_owned(), (*y).to_owned()))
        }
        _ => Ok(()),
    }
}

/// The record of one merge: enough to undo it.
#[derive(Serialize, Deserialize, Clone, PartialEq, Debug)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct MergeRecord {
    pub id: String,
    pub at: u64,
    /// The profile that remains.
    pub survivor: String,
    /// The absorbed profile as it was just before the merge.
    pub absorbed: Profile,
    /// The survivor's identities and traits just before the merge.
    pub survivor_identities_before: Vec<IdentityKey>,
    pub survivor_traits_before: BTreeMap<String, TraitValue>,
    pub survivor_created_at: u64,
    /// The verified identity the two shared, and how it was proven.
    pub because: IdentityKey,
    pub proof: Proof,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub undone_at: Option<u64>,
}

/// Merges `absorbed` into `survivor`. The survivor keeps its active conversation; the absorbed
/// profile's conversations follow it (their messages join the active one's timeline, see
/// `merge_timeline`).
pub fn merge(
    survivor: &Profile,
    absorbed: &Profile,
    because: IdentityKey,
    proof: Proof,
    merge_id: String,
    now: u64,
    rules: &TraitRules,
) -> Result<(Profile, MergeRecord), MergeError> {
    compatible(survivor, absorbed)?;
    let mut merged = survivor.clone();
    for identity in &absorbed.identities {
        merged.add_identity(identity.key.clone(), identity.proof.clone(), identity.at);
    }
    for (name, value) in &absorbed.traits {
        merged.set_trait(name, value.clone(), rules);
    }
    for conversation in &absorbed.conversations {
        if !merged.conversations.contains(conversation) {
            merged.conversations.push(conversation.clone());
        }
    }
    merged.created_at = survivor.created_at.min(absorbed.created_at);
    let record = MergeRecord {
        id: merge_id,
        at: now,
        survivor: survivor.id.clone(),
        absorbed: absorbed.clone(),
        survivor_identities_before: survivor.identities.iter().map(|i| i.key.clone()).collect(),
        survivor_traits_before: survivor.traits.clone(),
        survivor_created_at: survivor.created_at,
        because,
        proof,
        undone_at: None,
    };
    Ok((merged, record))
}

/// Undoes a merge on the survivor as it is now: the identities and conversations the absorbed
/// profile brought leave it, and traits it brought go back to their earlier value unless they
/// were set again since. Returns the survivor and the absorbed profile, restored.
pub fn undo(current: &Profile, record: &MergeRecord) -> (Profile, Profile) {
    let mut survivor = current.clone();
    survivor.identities.retain(|identity| {
        record.survivor_identities_before.contains(&identity.key)
            || !record.absorbed.identities.iter().any(|a| a.key == identity.key)
    });
    survivor
        .conversations
        .retain(|c| !record.absorbed.conversations.contains(c));
    for (name, brought) in &record.absorbed.traits {
        // Changed since the merge: the newer value stays.
        if survivor.traits.get(name) != Some(brought) {
            continue;
        }
        match record.survivor_traits_before.get(name) {
            Some(before) => survivor.traits.insert(name.clone(), before.clone()),
            None => survivor.traits.remove(name),
        };
    }
    survivor.created_at = record.survivor_created_at;
    (survivor, record.absorbed.clone())
}

/// What an identify call (or a verified code) does to the directory.
#[derive(Clone, PartialEq, Debug)]
pub enum Plan {
    /// The session's profile takes the identities; nobody else holds them.
    Attach,
    /// The profile `survivor` holds a verified identity from the proof: the session's profile
    /// merges into it.
    Merge { survivor: String, because: IdentityKey },
    /// The session's profile already belongs to someone else (another verified user id): the
    /// session moves to `owner` (or to a new profile when `owner` is `None`) and the old
    /// profile's history stays with the old profile.
    Switch { owner: Option<String> },
}

/// Decides what proving `identified` from a session whose profile is `session` does, given the
/// profile (if any) that already holds each verified identity (`owners`, by key).
pub fn plan(session: &Profile, identified: &Identified, owners: &BTreeMap<IdentityKey, Profile>) -> Plan {
    // The user id leads: it is the site's own name for the person.
    let owner = identified
        .verified
        .iter()
        .find_map(|key| owners.get(key).map(|owner| (key, owner)));
    let proven_user_ids: Vec<&str> = identified
        .verified
        .iter()
        .filter(|k| k.kind == IdentityKind::UserId)
        .map(|k| k.value.as_str())
        .collect();
    let session_user_ids = session.verified_of(IdentityKind::UserId);
    let someone_else = !proven_user_ids.is_empty()
        && !session_user_ids.is_empty()
        && !session_user_ids.iter().any(|u| proven_user_ids.contains(u));
    match owner {
        Some((_, owner)) if owner.id == session.id => Plan::Attach,
        Some((key, owner)) => {
            if someone_else || compatible(owner, session).is_err() {
                Plan::Switch {
                    owner: Some(owner.id.clone()),
                }
            } else {
                Plan::Merge {
                    survivor: owner.id.clone(),
                    because: key.clone(),
                }
            }
        }
        None if someone_else => Plan::Switch { owner: None },
        None => Plan::Attach,
    }
}

/// Joins the messages of conversation `from` into `into`'s timeline: one timeline ordered by
/// time (ties keep each side's order), each message once, renumbered `1..`. Joined messages get
/// ids prefixed with `from` (so no id can collide and joining twice changes nothing) and are
/// marked with `origin: from`, so `split_timeline` can take them out again.
pub fn merge_timeline(into: &[Message], from: &[Message], from_conversation: &str) -> Vec<Message> {
    let prefix = |id: &str| format!("{from_conversation}/{id}");
    let mut all: Vec<Message> = into.to_vec();
    for message in from {
        let id = prefix(&message.id);
        if into.iter().any(|m| m.id == id) {
            continue;
        }
        all.push(Message {
            id,
            reply_to: message.reply_to.as_deref().map(prefix),
            origin: Some(from_conversation.to_owned()),
            ..message.clone()
        });
    }
    all.sort_by_key(|m| m.at);
    renumber(all)
}

/// Takes the messages that joined from `from_conversation` out again.
pub fn split_timeline(messages: &[Message], from_conversation: &str) -> Vec<Message> {
    renumber(
        messages
            .iter()
            .filter(|m| m.origin.as_deref() != Some(from_conversation))
            .cloned()
            .collect(),
    )
}

fn renumber(mut messages: Vec<Message>) -> Vec<Message> {
    for (i, message) in messages.iter_mut().enumerate() {
        message.seq = i as u64 + 1;
    }
    messages
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{Channel, Role};
    use serde_json::json;

    fn key(kind: IdentityKind, value: &str) -> IdentityKey {
        IdentityKey::new(kind, value).unwrap()
    }

    fn trait_value(value: Value, at: u64, verified: bool) -> TraitValue {
        TraitValue { value, at, verified }
    }

    fn profile(id: &str, visitor: &str, at: u64) -> Profile {
        Profile::for_session(id.into(), visitor, &format!("c-{visitor}"), at)
    }

    fn token_proof() -> Proof {
        Proof::IdentityToken { kid: "k1".into() }
    }

    fn message(seq: u64, id: &str, at: u64) -> Message {
        Message {
            seq,
            id: id.into(),
            role: Role::Visitor,
            text: format!("text {id}"),
            at,
            reply_to: None,
            bot: None,
            channel: Channel::Chat,
            origin: None,
            helpful: None,
        }
    }

    #[test]
    fn verified_identities_win_over_claims_and_are_never_downgraded() {
        let mut p = profile("p1", "v1", 1);
        let email = key(IdentityKind::Email, "ana@example.com");
        p.add_identity(email.clone(), Proof::Claimed, 2);
        assert!(!p.identities[1].verified);
        p.add_identity(email.clone(), Proof::EmailCode, 3);
        assert!(p.identities[1].verified);
        assert_eq!(p.identities[1].proof, Proof::EmailCode);
        p.add_identity(email, Proof::Claimed, 4);
        assert!(p.identities[1].verified);
        assert_eq!(p.identities[1].at, 3);
    }

    #[test]
    fn traits_newest_wins_unless_verified_or_the_site_says_otherwise() {
        let rules: TraitRules = [
            ("signed_up".to_string(), TraitRule::KeepFirst),
            ("ltv".to_string(), TraitRule::Max),
        ]
        .into();
        let mut p = profile("p1", "v1", 1);
        p.set_trait("plan", trait_value(json!("free"), 10, false), &rules);
        p.set_trait("plan", trait_value(json!("pro"), 20, false), &rules);
        assert_eq!(p.traits["plan"].value, "pro");
        // An older value arriving late does not win...
        p.set_trait("plan", trait_value(json!("team"), 15, false), &rules);
        assert_eq!(p.traits["plan"].value, "pro");
        // ...a verified one does, and a later claim does not displace it.
        p.set_trait("plan", trait_value(json!("enterprise"), 16, true), &rules);
        p.set_trait("plan", trait_value(json!("free"), 30, false), &rules);
        assert_eq!(p.traits["plan"].value, "enterprise");
        p.set_trait("signed_up", trait_value(json!("2024"), 10, false), &rules);
        p.set_trait("signed_up", trait_value(json!("2025"), 20, false), &rules);
        assert_eq!(p.traits["signed_up"].value, "2024");
        p.set_trait("ltv", trait_value(json!(900), 10, false), &rules);
        p.set_trait("ltv", trait_value(json!(300), 20, false), &rules);
        assert_eq!(p.traits["ltv"].value, 900);
    }

    #[test]
    fn merging_unites_identities_traits_and_conversations_and_undo_restores_both() {
        let rules = TraitRules::new();
        let mut a = profile("pa", "va", 100);
        a.add_identity(key(IdentityKind::UserId, "u1"), token_proof(), 110);
        a.set_trait("plan", trait_value(json!("free"), 110, false), &rules);
        a.set_trait("company", trait_value(json!("Acme"), 110, false), &rules);
        let mut b = profile("pb", "vb", 200);
        b.add_identity(key(IdentityKind::Email, "ana@example.com"), Proof::Claimed, 210);
        b.set_trait("plan", trait_value(json!("pro"), 210, false), &rules);
        let because = key(IdentityKind::UserId, "u1");
        let (merged, record) = merge(&a, &b, because, token_proof(), "m1".into(), 300, &rules).unwrap();
        assert_eq!(merged.id, "pa");
        assert_eq!(merged.conversations, vec!["c-va", "c-vb"]);
        assert_eq!(merged.identities.len(), 4);
        assert_eq!(merged.traits["plan"].value, "pro");
        assert_eq!(merged.traits["company"].value, "Acme");
        assert_eq!(merged.created_at, 100);

        // Something changes after the merge; undo keeps it.
        let mut later = merged.clone();
        later.set_trait("company", trait_value(json!("Acme Ltd"), 400, false), &rules);
        later.add_identity(key(IdentityKind::Phone, "+14155550100"), token_proof(), 400);
        let (survivor, absorbed) = undo(&later, &record);
        assert_eq!(absorbed, b);
        assert_eq!(survivor.conversations, vec!["c-va"]);
        assert_eq!(survivor.traits["plan"].value, "free");
        assert_eq!(survivor.traits["company"].value, "Acme Ltd");
        let keys: Vec<String> = survivor.identities.iter().map(|i| i.key.to_string()).collect();
        assert_eq!(keys, vec!["session:va", "user_id:u1", "phone:+14155550100"]);
    }

    #[test]
    fn two_verified_user_ids_are_two_people() {
        let mut a = profile("pa", "va", 1);
        a.add_identity(key(IdentityKind::UserId, "u1"), token_proof(), 1);
        let mut b = profile("pb", "vb", 1);
        b.add_identity(key(IdentityKind::UserId, "u2"), token_proof(), 1);
        let because = key(IdentityKind::Email, "x@example.com");
        assert!(matches!(
            merge(
                &a,
                &b,
                because.clone(),
                token_proof(),
                "m".into(),
                2,
                &TraitRules::new()
            ),
            Err(MergeError::DifferentPeople(..))
        ));
        assert_eq!(
            merge(&a, &a, because, token_proof(), "m".into(), 2, &TraitRules::new()),
            Err(MergeError::SameProfile)
        );
    }

    fn identified(verified: Vec<IdentityKey>) -> Identified {
        Identified {
            proof: token_proof(),
            verified,
            claimed: vec![],
            traits: BTreeMap::new(),
            traits_verified: true,
        }
    }

    #[test]
    fn plans() {
        let u1 = key(IdentityKind::UserId, "u1");
        let u2 = key(IdentityKind::UserId, "u2");
        let fresh = profile("p-new", "vb", 1);
        let mut known = profile("p-old", "va", 1);
        known.add_identity(u1.clone(), token_proof(), 1);
        // Nobody has u1 yet: the session's profile takes it.
        assert_eq!(
            plan(&fresh, &identified(vec![u1.clone()]), &BTreeMap::new()),
            Plan::Attach
        );
        // Someone has it: merge into them.
        let owners: BTreeMap<_, _> = [(u1.clone(), known.clone())].into();
        assert_eq!(
            plan(&fresh, &identified(vec![u1.clone()]), &owners),
            Plan::Merge {
                survivor: "p-old".into(),
                because: u1.clone()
            }
        );
        // The session's own profile has it: nothing to merge.
        assert_eq!(plan(&known, &identified(vec![u1.clone()]), &owners), Plan::Attach);
        // A browser logged in as u1 now logs in as u2 (a shared computer): switch, never merge.
        assert_eq!(
            plan(&known, &identified(vec![u2.clone()]), &BTreeMap::new()),
            Plan::Switch { owner: None }
        );
        let mut other = profile("p-u2", "vc", 1);
        other.add_identity(u2.clone(), token_proof(), 1);
        let owners: BTreeMap<_, _> = [(u2.clone(), other)].into();
        assert_eq!(
            plan(&known, &identified(vec![u2]), &owners),
            Plan::Switch {
                owner: Some("p-u2".into())
            }
        );
    }

    #[test]
    fn imports_parse_all_or_nothing_and_apply_as_verified() {
        let people = parse_import(
            "{\"user_id\": \"u1\", \"email\": \"Ana@Example.com\", \"traits\": {\"plan\": \"pro\"}}\n\n{\"user_id\": \"u2\"}\n",
        )
        .unwrap();
        assert_eq!(people.len(), 2);
        assert_eq!(people[0].email.as_ref().unwrap().value, "ana@example.com");
        let error = parse_import("{\"user_id\": \"u1\"}\n{\"email\": \"x@y.z\"}").unwrap_err();
        assert_eq!((error.line, error.field.as_deref()), (2, Some("user_id")));
        let error = parse_import("{\"user_id\": \"u1\"}\n{\"user_id\": \"u1\"}").unwrap_err();
        assert!(error.message.contains("twice"));
        assert!(parse_import("{\"user_id\": \"u1\", \"phone\": \"555\"}").is_err());

        let mut profile = Profile {
            id: "p".into(),
            created_at: 1,
            identities: vec![],
            traits: BTreeMap::new(),
            conversations: vec![],
            review: None,
        };
        let email = people[0].email.clone().unwrap();
        profile.apply_import(&people[0], &[&email], &TraitRules::new(), 5);
        // The email another profile holds stays with it.
        assert_eq!(profile.identities.len(), 1);
        assert!(profile.identities[0].verified);
        assert_eq!(profile.identities[0].proof, Proof::Import);
        assert!(profile.traits["plan"].verified);
    }

    #[test]
    fn timelines_join_in_time_order_once_and_split_back() {
        let a = vec![message(1, "a1", 100), message(2, "a2", 300)];
        let mut b = vec![message(1, "b1", 200), message(2, "b2", 400)];
        b[1].reply_to = Some("b1".into());
        let joined = merge_timeline(&a, &b, "cb");
        let ids: Vec<&str> = joined.iter().map(|m| m.id.as_str()).collect();
        assert_eq!(ids, vec!["a1", "cb/b1", "a2", "cb/b2"]);
        assert_eq!(joined.iter().map(|m| m.seq).collect::<Vec<_>>(), vec![1, 2, 3, 4]);
        assert_eq!(joined[3].reply_to.as_deref(), Some("cb/b1"));
        assert_eq!(joined[1].origin.as_deref(), Some("cb"));
        // Joining again adds nothing.
        assert_eq!(merge_timeline(&joined, &b, "cb"), joined);
        let split = split_timeline(&joined, "cb");
        assert_eq!(split, a);
    }

    #[test]
    fn equal_times_keep_each_sides_order() {
        let a = vec![message(1, "a1", 100), message(2, "a2", 100)];
        let b = vec![message(1, "b1", 100)];
        let ids: Vec<String> = merge_timeline(&a, &b, "cb").into_iter().map(|m| m.id).collect();
        assert_eq!(ids, vec!["a1", "a2", "cb/b1"]);
    }
}
