//! Accounts and credentials (protocol.md §2): registration, login,
//! refresh-token rotation, logout, gateway tickets, API keys, and who a
//! Bearer credential is (our access tokens, API keys, the platform's
//! external JWTs, provisioning their users on first sight).

use super::sessions::SessionGate;
use crate::auth::Principal;
use crate::auth::external::{ExternalClaims, ExternalVerifier};
use crate::auth::password::Passwords;
use crate::auth::provisioned::{self, ProvisionedUsers};
use crate::auth::tokens::{Tokens, random_token, sha256_hex};
use crate::cluster::Shared;
use crate::error::{AppError, AppResult};
use crate::ratelimit::{Action, Limiter};
use parley_domain::input;
use parley_domain::moderation as audit;
use parley_protocol::{AuthResponse, RegisterRequest, Role, TicketResponse, Timestamp};
use parley_store::ids::new_id;
use parley_store::{
    CredentialStore, DigestStore, ModerationStore, NewUser, RefreshTokenRow, RotateOutcome,
    UserRow, UserStore,
};
use std::net::IpAddr;
use std::sync::Arc;

#[derive(Clone)]
pub struct AccountsService {
    users: Arc<dyn UserStore>,
    credentials: Arc<dyn CredentialStore>,
    /// For the security events of the audit log.
    moderation: Arc<dyn ModerationStore>,
    /// The email address a platform token carries.
    emails: Arc<dyn DigestStore>,
    gate: SessionGate,
    tokens: Tokens,
    passwords: Passwords,
    external: Option<Arc<ExternalVerifier>>,
    provisioned: Arc<ProvisionedUsers>,
    limiter: Limiter,
    /// Redis, for single-use tickets across processes.
    shared: Option<Shared>,
    registration_open: bool,
    refresh_ttl_secs: u64,
    refresh_reuse_window_ms: i64,
    /// Which avatar URLs a platform's `picture` claim may set.
    avatar_policy: input::AvatarPolicy,
}

/// What [`AccountsService::new`] needs besides storage.
pub struct AccountsConfig {
    pub tokens: Tokens,
    pub passwords: Passwords,
    pub external: Option<ExternalVerifier>,
    pub limiter: Limiter,
    pub shared: Option<Shared>,
    pub registration_open: bool,
    pub refresh_ttl_secs: u64,
    pub refresh_reuse_window_ms: i64,
    pub avatar_policy: input::AvatarPolicy,
}

impl AccountsService {
    pub fn new(
        users: Arc<dyn UserStore>,
        credentials: Arc<dyn CredentialStore>,
        moderation: Arc<dyn ModerationStore>,
        emails: Arc<dyn DigestStore>,
        gate: SessionGate,
        c: AccountsConfig,
    ) -> Self {
        AccountsService {
            users,
            credentials,
            moderation,
            emails,
            gate,
            tokens: c.tokens,
            passwords: c.passwords,
            external: c.external.map(Arc::new),
            provisioned: Arc::default(),
            limiter: c.limiter,
            shared: c.shared,
            registration_open: c.registration_open,
            refresh_ttl_secs: c.refresh_ttl_secs,
            refresh_reuse_window_ms: c.refresh_reuse_window_ms,
            avatar_policy: c.avatar_policy,
        }
    }

    fn refresh_row(&self, token: &str, family_id: String, user_id: String) -> RefreshTokenRow {
        let now = Timestamp::now();
        RefreshTokenRow {
            token_hash: sha256_hex(token),
            family_id,
            user_id,
            created_at: now,
            expires_at: Timestamp(now.millis() + self.refresh_ttl_secs as i64 * 1000),
        }
    }

    /// Issues an access token and a refresh token in a new family.
    async fn session(&self, user: &UserRow) -> AppResult<AuthResponse> {
        let refresh = format!("rt_{}", random_token(32));
        let family = new_id();
        let row = self.refresh_row(&refresh, family.clone(), user.id.clone());
        self.credentials.insert_refresh_token(row).await?;
        Ok(AuthResponse {
            user: user.to_wire(),
            access_token: self
                .tokens
                .issue_access(&user.id, user.role, Some(&family))?,
            refresh_token: refresh,
            expires_in: self.tokens.access_ttl_secs,
        })
    }

    pub async fn register(&self, req: RegisterRequest, ip: IpAddr) -> AppResult<AuthResponse> {
        if !self.registration_open {
            return Err(AppError::Forbidden(
                "registration is closed on this server".into(),
            ));
        }
        let username = input::username(&req.username)?;
        input::password(&req.password)?;
        let display_name = match &req.display_name {
            Some(d) => input::label("display_name", d, 64)?,
            None => username.clone(),
        };
        self.limiter
            .spend(Action::Register, &ip.to_string())
            .await?;
        if self.users.user_by_username(&username).await?.is_some() {
            return Err(parley_domain::users::USERNAME_TAKEN.into());
        }
        let hash = self.passwords.hash(&req.password).await?;
        let user = self
            .users
            .create_user(NewUser {
                id: new_id(),
                username,
                display_name,
                role: Role::User,
                password_hash: Some(hash),
                external_sub: None,
                avatar_url: None,
                is_bot: false,
                created_at: Timestamp::now(),
            })
            .await?;
        self.session(&user).await
    }

    pub async fn login(
        &self,
        username: &str,
        password: &str,
        ip: IpAddr,
    ) -> AppResult<AuthResponse> {
        if password.chars().count() > 256 || username.len() > 256 {
            return Err(AppError::Unauthenticated("wrong username or password"));
        }
        let username = username.to_lowercase();
        self.limiter.spend(Action::LoginIp, &ip.to_string()).await?;
        self.limiter.spend(Action::LoginUsername, &username).await?;
        let user = self.users.user_by_username(&username).await?;
        let ok = self
            .passwords
            .verify(
                user.as_ref().and_then(|u| u.password_hash.as_deref()),
                password,
            )
            .await?;
        match (ok, user) {
            // Only once the password is right: a ban is nobody else's
            // business.
            (true, Some(user)) if user.banned_at.is_some() => Err(AppError::Banned),
            (true, Some(user)) => self.session(&user).await,
            _ => Err(AppError::Unauthenticated("wrong username or password")),
        }
    }

    /// Rotates a refresh token; a reused one revokes its whole family.
    /// Within the grace window after a rotation the same token yields the
    /// same successor (two tabs refreshing at once both stay signed in).
    pub async fn refresh(&self, token: &str) -> AppResult<AuthResponse> {
        if token.len() > 256 {
            return Err(AppError::Unauthenticated("invalid refresh token"));
        }
        let next = self.tokens.successor(token);
        // Family and user come from the token being rotated.
        let row = self.refresh_row(&next, String::new(), String::new());
        match self
            .credentials
            .rotate_refresh_token(&sha256_hex(token), row, self.refresh_reuse_window_ms)
            .await?
        {
            RotateOutcome::Rotated { user_id, family_id }
            | RotateOutcome::Repeated { user_id, family_id } => {
                let user = self
                    .users
                    .user_by_id(&user_id)
                    .await?
                    .filter(|u| u.banned_at.is_none())
                    .ok_or(AppError::Unauthenticated("invalid refresh token"))?;
                Ok(AuthResponse {
                    user: user.to_wire(),
                    access_token: self.tokens.issue_access(
                        &user.id,
                        user.role,
                        Some(&family_id),
                    )?,
                    refresh_token: next,
                    expires_in: self.tokens.access_ttl_secs,
                })
            }
            RotateOutcome::Reused { user_id, family_id } => {
                tracing::warn!(user_id = %user_id, "refresh token reused; family revoked");
                self.gate.forget_session(&family_id);
                self.moderation
                    .append_audit(audit::refresh_reuse(&user_id, &family_id), Timestamp::now())
                    .await?;
                Err(AppError::Unauthenticated(
                    "refresh token already used; sign in again",
                ))
            }
            RotateOutcome::Invalid => Err(AppError::Unauthenticated("invalid refresh token")),
        }
    }

    pub async fn logout(&self, token: &str) -> AppResult<()> {
        if token.len() <= 256
            && let Some(family) = self
                .credentials
                .revoke_refresh_family(&sha256_hex(token))
                .await?
        {
            self.gate.forget_session(&family);
        }
        Ok(())
    }

    /// A single-use ticket for opening a gateway connection.
    pub fn ticket(&self, who: &Principal) -> AppResult<TicketResponse> {
        Ok(TicketResponse {
            ticket: self
                .tokens
                .issue_ticket(&who.user_id, who.role, who.session_id.as_deref())?,
            expires_in: self.tokens.ticket_ttl_secs,
        })
    }

    /// The ticket's holder. `consume`: the ticket is used up (on every
    /// process); otherwise it is only checked.
    pub async fn redeem_ticket(&self, ticket: &str, consume: bool) -> Option<Principal> {
        let s = if consume {
            self.tokens
                .redeem_ticket_shared(ticket, self.shared.as_ref())
                .await
        } else {
            self.tokens.peek_ticket(ticket)
        }?;
        self.gate
            .check(&s.user_id, Some(s.issued_at_ms), s.session_id.as_deref())
            .await
            .ok()?;
        Some(Principal {
            user_id: s.user_id,
            role: s.role,
            session_id: s.session_id,
        })
    }

    /// Resolves a Bearer credential of any kind to a principal.
    pub async fn authenticate(&self, credential: &str) -> AppResult<Principal> {
        if credential.len() > 8192 {
            return Err(AppError::Unauthenticated("invalid credentials"));
        }
        if credential.starts_with("pk_") {
            let hash = sha256_hex(credential);
            let user_id = self
                .credentials
                .api_key_user(&hash)
                .await?
                .ok_or(AppError::Unauthenticated("invalid API key"))?;
            let user = self
                .users
                .user_by_id(&user_id)
                .await?
                .ok_or(AppError::Unauthenticated("invalid API key"))?;
            self.gate.check(&user.id, None, None).await?;
            return Ok(Principal {
                user_id: user.id,
                role: user.role,
                session_id: None,
            });
        }
        if let Some(s) = self.tokens.verify_access(credential) {
            self.gate
                .check(&s.user_id, Some(s.issued_at_ms), s.session_id.as_deref())
                .await?;
            return Ok(Principal {
                user_id: s.user_id,
                role: s.role,
                session_id: s.session_id,
            });
        }
        if let Some(verifier) = &self.external
            && let Some(claims) = verifier.verify(credential)
        {
            let issued_at_ms = claims.iat.map(|s| s.saturating_mul(1000));
            let p = self.provision_external(claims).await?;
            self.gate.check(&p.user_id, issued_at_ms, None).await?;
            return Ok(p);
        }
        Err(AppError::Unauthenticated("invalid or expired token"))
    }

    async fn provision_external(&self, c: ExternalClaims) -> AppResult<Principal> {
        let role = c
            .roles
            .as_ref()
            .and_then(|roles| {
                [Role::Admin, Role::Agent]
                    .into_iter()
                    .find(|r| roles.iter().any(|x| x == r.as_str()))
            })
            .unwrap_or(Role::User);
        // A username from the subject: folded, invalid characters dropped.
        let mut username: String = c
            .sub
            .to_lowercase()
            .chars()
            .filter(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || *ch == '_' || *ch == '.')
            .take(32)
            .collect();
        if username.len() < 3 {
            username = format!("user_{}", &sha256_hex(&c.sub)[..10]);
        }
        let display_name = c
            .name
            .as_deref()
            .and_then(|n| input::label("name", n, 64).ok())
            .unwrap_or_else(|| username.clone());
        let avatar_url = c
            .picture
            .as_deref()
            .and_then(|p| input::avatar_url("picture", p, &self.avatar_policy).ok())
            .filter(|p| !p.is_empty());
        let email = c
            .email
            .as_deref()
            .and_then(|e| parley_domain::digest::address(e).ok().flatten());
        let profile = provisioned::profile(
            &display_name,
            avatar_url.as_deref(),
            role.as_str(),
            email.as_deref(),
        );
        if let Some(p) = self.provisioned.get(&c.sub, &profile) {
            return Ok(p);
        }
        let sub = c.sub.clone();
        let user = self
            .users
            .upsert_external_user(NewUser {
                id: new_id(),
                username,
                display_name,
                role,
                password_hash: None,
                external_sub: Some(c.sub),
                avatar_url,
                is_bot: false,
                created_at: Timestamp::now(),
            })
            .await?;
        // The platform owns the address while its tokens carry one; a
        // token without the claim leaves what the user set.
        if email.is_some() {
            self.emails.set_email_address(&user.id, email).await?;
        }
        let principal = Principal {
            user_id: user.id,
            role: user.role,
            session_id: None,
        };
        self.provisioned.insert(sub, profile, principal.clone());
        Ok(principal)
    }

    /// `parley admin create-user`: a user with a password and a role.
    pub async fn create_user(
        &self,
        username: &str,
        password: &str,
        role: Role,
    ) -> AppResult<UserRow> {
        let username = input::username(username)?;
        input::password(password)?;
        let hash = self.passwords.hash(password).await?;
        Ok(self
            .users
            .create_user(NewUser {
                id: new_id(),
                username: username.clone(),
                display_name: username,
                role,
                password_hash: Some(hash),
                external_sub: None,
                avatar_url: None,
                is_bot: false,
                created_at: Timestamp::now(),
            })
            .await?)
    }

    /// `parley admin create-api-key`: a bot user (admin) and its key,
    /// returned once; only its hash is stored.
    pub async fn create_api_key(&self, name: &str) -> AppResult<(String, String)> {
        let label = input::label("name", name, 64)?;
        let key = format!("pk_{}", random_token(32));
        let user_id = new_id();
        let username: String = format!(
            "bot.{}",
            label
                .to_lowercase()
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
                .take(24)
                .collect::<String>()
        );
        self.users
            .create_user(NewUser {
                id: user_id.clone(),
                username,
                display_name: label.clone(),
                role: Role::Admin,
                password_hash: None,
                external_sub: None,
                avatar_url: None,
                is_bot: true,
                created_at: Timestamp::now(),
            })
            .await?;
        self.credentials
            .insert_api_key(
                &new_id(),
                &label,
                &sha256_hex(&key),
                &user_id,
                Timestamp::now(),
            )
            .await?;
        self.moderation
            .append_audit(audit::api_key_created(&user_id, &label), Timestamp::now())
            .await?;
        Ok((key, label))
    }
}
