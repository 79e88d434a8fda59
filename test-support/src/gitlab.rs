//! A fake GitLab instance.
