-- bosun schema, version 6: prompt delivery is two recorded steps. `prompt_sent_at` says the
-- prompt was pasted; `submitted_at` that the submit keys went after it. A supervisor that
-- died between the two presses submit on re-adoption instead of leaving the agent idle.
ALTER TABLE runs ADD COLUMN submitted_at INTEGER;
