"""The referral programme: codes and links per contact, invitations, attribution through to
the first paid invoice, fraud checks, and rewards paid through Stripe exactly once."""
