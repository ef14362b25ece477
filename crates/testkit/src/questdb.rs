//! A stand-in for QuestDB's HTTP endpoints (QuestDB cannot be installed on this machine).
