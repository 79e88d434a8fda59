//! A read-only GitLab REST v4 client.
