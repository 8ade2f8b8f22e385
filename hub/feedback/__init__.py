"""Feedback surveys (NPS, CSAT, CES): definitions, eligibility, signed one-click answer links,
sentiment and topics of comments, priorities and follow-ups, and measured trends."""
