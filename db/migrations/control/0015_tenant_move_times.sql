-- A move between servers records when its write fence went up and when the
-- tenant was switched over, so that a move resumed by another process still
-- reports how long writes were refused. A move keeps its row after the
-- switch-over (step 'flipped') until the old copy is removed: a rerun then
-- only finishes that cleanup. step names the last step finished.
ALTER TABLE control.tenant_moves
    ADD COLUMN fenced_at timestamptz,
    ADD COLUMN flipped_at timestamptz,
    ADD CONSTRAINT tenant_moves_step_check CHECK (step IN ('started', 'fenced', 'copied', 'verified', 'flipped'));
