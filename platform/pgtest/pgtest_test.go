package pgtest

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func TestMain(m *testing.M) { os.Exit(Run(m)) }

func TestURLs(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for url, wantUser := range map[string]string{URL(): "switchboard", AdminURL(): "postgres"} {
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			t.Fatalf("connect %s: %v", url, err)
		}
		var user, fsync string
		if err := conn.QueryRow(ctx, "SELECT current_user, current_setting('fsync')").Scan(&user, &fsync); err != nil {
			t.Fatal(err)
		}
		_ = conn.Close(ctx)
		if user != wantUser {
			t.Errorf("%s: current_user = %s, want %s", url, user, wantUser)
		}
		if os.Getenv(urlEnv) == "" && fsync != "off" {
			t.Errorf("fsync = %s, want off for the throwaway cluster", fsync)
		}
	}
}
