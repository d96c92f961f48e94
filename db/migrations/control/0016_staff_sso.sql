-- Staff single sign-on: a staff user who signed in with the identity
-- provider is bound to its subject there, so that another account with the
-- same e-mail address (at that provider or another) cannot take theirs over.
ALTER TABLE control.staff_users
    ADD COLUMN sso_issuer  text,
    ADD COLUMN sso_subject text,
    ADD CONSTRAINT staff_users_sso_link CHECK ((sso_issuer IS NULL) = (sso_subject IS NULL));
CREATE UNIQUE INDEX staff_users_sso_subject_idx ON control.staff_users (sso_issuer, sso_subject) WHERE sso_subject IS NOT NULL;
