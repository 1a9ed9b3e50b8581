//! People's accounts: users, their memberships of services (with permissions), sessions,
//! second-factor codes, single-use links and invitations. Rules (who may sign in, when a code
//! expires) live in the server's `domain::accounts`; this module only keeps the rows and their
//! secondary tables in step.
//!
//! Secrets are never stored as given: sessions, links and invitations are keyed by a SHA-256
//! of their token (computed by the caller), codes keep only a salted hash.

use redb::{ReadableTable, ReadableTableMetadata};
use uuid::Uuid;

use crate::codec::{decode, encode};
use crate::entities::{Reader, get_by_id};
use crate::error::Result;
use crate::records::{Invitation, LinkToken, Membership, Session, User, VerifyCode};
use crate::tables::{
    INVITATION_TOKENS, INVITATIONS, LINK_TOKENS, SERVICE_INVITATIONS, SERVICE_USERS, SESSIONS,
    USER_SERVICES, USERS, VERIFY_CODES,
};
use crate::writer::WriteCtx;

impl WriteCtx<'_> {
    /// Make (or change) a membership: the permissions row and the service's team row.
    pub fn put_membership(&mut self, m: &Membership) -> Result<()> {
        let (u, s) = (m.user_id.as_u128(), m.service_id.as_u128());
        self.tables
            .user_services
            .insert((u, s), encode(m).as_slice())?;
        self.tables.service_users.insert((s, u), ())?;
        Ok(())
    }

    pub fn get_membership(&self, user_id: Uuid, service_id: Uuid) -> Result<Option<Membership>> {
        match self
            .tables
            .user_services
            .get((user_id.as_u128(), service_id.as_u128()))?
        {
            Some(v) => Ok(Some(decode(v.value())?)),
            None => Ok(None),
        }
    }

    /// Every service the user belongs to, with their permissions in each.
    pub fn user_memberships(&self, user_id: Uuid) -> Result<Vec<Membership>> {
        let u = user_id.as_u128();
        let mut out = Vec::new();
        for row in self.tables.user_services.range((u, 0)..=(u, u128::MAX))? {
            out.push(decode(row?.1.value())?);
        }
        Ok(out)
    }

    /// Every user, in id order (a scan: users are few).
    pub fn all_users(&self) -> Result<Vec<User>> {
        let mut out = Vec::new();
        for row in self.tables.users.iter()? {
            out.push(decode(row?.1.value())?);
        }
        Ok(out)
    }

    pub fn insert_session(&mut self, hash: &[u8], s: &Session) -> Result<()> {
        self.tables.sessions.insert(hash, encode(s).as_slice())?;
        self.tables
            .user_sessions
            .insert((s.user_id.as_u128(), hash), ())?;
        Ok(())
    }

    pub fn get_session(&self, hash: &[u8]) -> Result<Option<Session>> {
        match self.tables.sessions.get(hash)? {
            Some(v) => Ok(Some(decode(v.value())?)),
            None => Ok(None),
        }
    }

    /// Change a stored session (its last-seen time); a session already ended stays ended.
    pub fn update_session(&mut self, hash: &[u8], s: &Session) -> Result<bool> {
        if self.tables.sessions.get(hash)?.is_none() {
            return Ok(false);
        }
        self.tables.sessions.insert(hash, encode(s).as_slice())?;
        Ok(true)
    }

    /// End one session; answers it if it existed.
    pub fn delete_session(&mut self, hash: &[u8]) -> Result<Option<Session>> {
        let Some(old) = self.tables.sessions.remove(hash)? else {
            return Ok(None);
        };
        let session: Session = decode(old.value())?;
        drop(old);
        self.tables
            .user_sessions
            .remove((session.user_id.as_u128(), hash))?;
        Ok(Some(session))
    }

    /// End every session of a user ("sign out everywhere", a lock, a new password); answers
    /// how many there were.
    pub fn delete_user_sessions(&mut self, user_id: Uuid) -> Result<usize> {
        let u = user_id.as_u128();
        let hashes: Vec<Vec<u8>> = {
            let mut all = Vec::new();
            for row in self
                .tables
                .user_sessions
                .range((u, [].as_slice())..=(u, [0xffu8; 33].as_slice()))?
            {
                all.push(row?.0.value().1.to_vec());
            }
            all
        };
        for hash in &hashes {
            self.tables.sessions.remove(hash.as_slice())?;
            self.tables.user_sessions.remove((u, hash.as_slice()))?;
        }
        Ok(hashes.len())
    }

    /// End sessions `expired` says are over (a scan: sessions are few); answers how many.
    pub fn delete_sessions_where(
        &mut self,
        mut expired: impl FnMut(&Session) -> bool,
    ) -> Result<usize> {
        let mut over = Vec::new();
        for row in self.tables.sessions.iter()? {
            let (k, v) = row?;
            let session: Session = decode(v.value())?;
            if expired(&session) {
                over.push(k.value().to_vec());
            }
        }
        for hash in &over {
            self.delete_session(hash)?;
        }
        Ok(over.len())
    }

    pub fn put_verify_code(&mut self, c: &VerifyCode) -> Result<()> {
        self.tables
            .verify_codes
            .insert((c.user_id.as_u128(), c.id.as_u128()), encode(c).as_slice())?;
        Ok(())
    }

    /// A user's codes, newest first.
    pub fn user_verify_codes(&self, user_id: Uuid) -> Result<Vec<VerifyCode>> {
        let u = user_id.as_u128();
        let mut out = Vec::new();
        for row in self
            .tables
            .verify_codes
            .range((u, 0)..=(u, u128::MAX))?
            .rev()
        {
            out.push(decode(row?.1.value())?);
        }
        Ok(out)
    }

    /// Forget a user's codes (a new second factor, an archived account).
    pub fn delete_user_verify_codes(&mut self, user_id: Uuid) -> Result<usize> {
        let codes = self.user_verify_codes(user_id)?;
        for c in &codes {
            self.tables
                .verify_codes
                .remove((user_id.as_u128(), c.id.as_u128()))?;
        }
        Ok(codes.len())
    }

    /// Delete codes created before `micros`; answers how many.
    pub fn delete_verify_codes_created_before(&mut self, micros: i64) -> Result<usize> {
        let mut old = Vec::new();
        for row in self.tables.verify_codes.iter()? {
            let (k, v) = row?;
            let code: VerifyCode = decode(v.value())?;
            if code.created_at < micros {
                old.push(k.value());
            }
        }
        for key in &old {
            self.tables.verify_codes.remove(*key)?;
        }
        Ok(old.len())
    }

    pub fn put_link_token(&mut self, hash: &[u8], t: &LinkToken) -> Result<()> {
        self.tables.link_tokens.insert(hash, encode(t).as_slice())?;
        Ok(())
    }

    pub fn get_link_token(&self, hash: &[u8]) -> Result<Option<LinkToken>> {
        match self.tables.link_tokens.get(hash)? {
            Some(v) => Ok(Some(decode(v.value())?)),
            None => Ok(None),
        }
    }

    /// Delete links that expired before `micros` (used or not); answers how many.
    pub fn delete_link_tokens_expired_before(&mut self, micros: i64) -> Result<usize> {
        let mut old = Vec::new();
        for row in self.tables.link_tokens.iter()? {
            let (k, v) = row?;
            let t: LinkToken = decode(v.value())?;
            if t.expires_at < micros {
                old.push(k.value().to_vec());
            }
        }
        for hash in &old {
            self.tables.link_tokens.remove(hash.as_slice())?;
        }
        Ok(old.len())
    }

    /// Store an invitation (new or changed), its service row and its token row.
    pub fn put_invitation(&mut self, i: &Invitation) -> Result<()> {
        self.tables
            .invitations
            .insert(i.id.as_u128(), encode(i).as_slice())?;
        self.tables
            .service_invitations
            .insert((i.service_id.as_u128(), i.id.as_u128()), ())?;
        self.tables
            .invitation_tokens
            .insert(i.token_hash.as_slice(), i.id.as_u128())?;
        Ok(())
    }

    pub fn get_invitation(&self, id: Uuid) -> Result<Option<Invitation>> {
        get_by_id(&*self.tables.invitations, id)
    }

    pub fn invitation_by_token(&self, hash: &[u8]) -> Result<Option<Invitation>> {
        let Some(id) = self.tables.invitation_tokens.get(hash)?.map(|v| v.value()) else {
            return Ok(None);
        };
        self.get_invitation(Uuid::from_u128(id))
    }

    /// Delete invitations created before `micros`, whatever their status; answers how many.
    pub fn delete_invitations_created_before(&mut self, micros: i64) -> Result<usize> {
        let mut old = Vec::new();
        for row in self.tables.invitations.iter()? {
            let i: Invitation = decode(row?.1.value())?;
            if i.created_at < micros {
                old.push(i);
            }
        }
        for i in &old {
            self.tables.invitations.remove(i.id.as_u128())?;
            self.tables
                .service_invitations
                .remove((i.service_id.as_u128(), i.id.as_u128()))?;
            self.tables
                .invitation_tokens
                .remove(i.token_hash.as_slice())?;
        }
        Ok(old.len())
    }
}

impl Reader {
    /// Every user, in id order.
    pub fn all_users(&self) -> Result<Vec<User>> {
        let mut out = Vec::new();
        for row in self.table(USERS)?.iter()? {
            out.push(decode(row?.1.value())?);
        }
        Ok(out)
    }

    pub fn user_count(&self) -> Result<u64> {
        Ok(self.table(USERS)?.len()?)
    }

    pub fn get_membership(&self, user_id: Uuid, service_id: Uuid) -> Result<Option<Membership>> {
        match self
            .table(USER_SERVICES)?
            .get((user_id.as_u128(), service_id.as_u128()))?
        {
            Some(v) => Ok(Some(decode(v.value())?)),
            None => Ok(None),
        }
    }

    /// Every service the user belongs to, with their permissions in each.
    pub fn user_memberships(&self, user_id: Uuid) -> Result<Vec<Membership>> {
        let u = user_id.as_u128();
        let mut out = Vec::new();
        for row in self.table(USER_SERVICES)?.range((u, 0)..=(u, u128::MAX))? {
            out.push(decode(row?.1.value())?);
        }
        Ok(out)
    }

    /// A service's team: each member and their membership.
    pub fn service_memberships(&self, service_id: Uuid) -> Result<Vec<(User, Membership)>> {
        let s = service_id.as_u128();
        let users = self.table(USERS)?;
        let memberships = self.table(USER_SERVICES)?;
        let mut out = Vec::new();
        for row in self.table(SERVICE_USERS)?.range((s, 0)..=(s, u128::MAX))? {
            let u = row?.0.value().1;
            let Some(user) = get_by_id::<User>(&users, Uuid::from_u128(u))? else {
                continue;
            };
            if let Some(m) = memberships.get((u, s))? {
                out.push((user, decode(m.value())?));
            }
        }
        Ok(out)
    }

    pub fn get_session(&self, hash: &[u8]) -> Result<Option<Session>> {
        match self.table(SESSIONS)?.get(hash)? {
            Some(v) => Ok(Some(decode(v.value())?)),
            None => Ok(None),
        }
    }

    pub fn session_count(&self) -> Result<u64> {
        Ok(self.table(SESSIONS)?.len()?)
    }

    /// A user's codes, newest first.
    pub fn user_verify_codes(&self, user_id: Uuid) -> Result<Vec<VerifyCode>> {
        let u = user_id.as_u128();
        let mut out = Vec::new();
        for row in self
            .table(VERIFY_CODES)?
            .range((u, 0)..=(u, u128::MAX))?
            .rev()
        {
            out.push(decode(row?.1.value())?);
        }
        Ok(out)
    }

    pub fn get_link_token(&self, hash: &[u8]) -> Result<Option<LinkToken>> {
        match self.table(LINK_TOKENS)?.get(hash)? {
            Some(v) => Ok(Some(decode(v.value())?)),
            None => Ok(None),
        }
    }

    pub fn get_invitation(&self, id: Uuid) -> Result<Option<Invitation>> {
        get_by_id(&self.table(INVITATIONS)?, id)
    }

    pub fn invitation_by_token(&self, hash: &[u8]) -> Result<Option<Invitation>> {
        let Some(id) = self.table(INVITATION_TOKENS)?.get(hash)?.map(|v| v.value()) else {
            return Ok(None);
        };
        self.get_invitation(Uuid::from_u128(id))
    }

    /// A service's invitations, oldest first.
    pub fn service_invitations(&self, service_id: Uuid) -> Result<Vec<Invitation>> {
        let s = service_id.as_u128();
        let records = self.table(INVITATIONS)?;
        let mut out = Vec::new();
        for row in self
            .table(SERVICE_INVITATIONS)?
            .range((s, 0)..=(s, u128::MAX))?
        {
            let id = row?.0.value().1;
            if let Some(i) = get_by_id(&records, Uuid::from_u128(id))? {
                out.push(i);
            }
        }
        Ok(out)
    }
}
