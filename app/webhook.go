package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"gorm.io/gorm"

	"switchboard/modules/notify"
	"switchboard/platform/humane"
)

// controlTx runs fn in a control-plane transaction: the MSP-wide webhooks'
// way to their tables (notify is not a control-plane owner, so it is handed
// this rather than the root handle).
func (e *env) controlTx(ctx context.Context, fn func(tx *gorm.DB) error) error {
	return e.cluster.ControlDB().WithContext(ctx).Transaction(fn)
}

// newWebhookCommand is `switchboard webhook …`: MSP-wide webhooks, as on
// the console's Webhooks page.
func newWebhookCommand() *cobra.Command {
	c := &cobra.Command{
		Use:   "webhook",
		Short: "Create, list and delete MSP-wide webhooks (events of every client, for your PSA)",
		Long: `An MSP-wide webhook receives the events it chooses for every client, signed
like a client's webhook channel (X-Switchboard-Signature: v1=HMAC-SHA256 of
timestamp "." body, keyed with its secret). Its secret is printed once, when it
is created. Each change is written to the platform audit log as the
operator's OS account. Events: ` + strings.Join(notify.HookEvents, ", ") + `.`,
	}
	c.AddCommand(webhookCreateCommand(), webhookListCommand(), webhookDeleteCommand())
	return c
}

func webhookCreateCommand() *cobra.Command {
	c := &cobra.Command{
		Use:   "create --url URL --events EVENT,... [--description TEXT]",
		Short: "Add an MSP-wide webhook and print its signing secret (shown once)",
		Example: `  switchboard webhook create --url https://psa.msp.example/switchboard --events alert.created,alert.acknowledged,alert.resolved
  switchboard webhook create --url https://psa.msp.example/clients --events client.created,client.suspended --description "PSA companies"`,
		Args: cobra.NoArgs,
	}
	url := c.Flags().String("url", "", "where to POST the events: https:// or http:// (required)")
	events := c.Flags().StringSlice("events", nil, "events to receive, comma-separated (required): "+strings.Join(notify.HookEvents, ", "))
	desc := c.Flags().String("description", "", "which tool this is, for the list")
	out := outputFlag(c)
	c.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := checkOutput(*out); err != nil {
			return err
		}
		if *url == "" || len(*events) == 0 {
			return usagef("--url and --events are required (see 'switchboard webhook create --help')")
		}
		return withTenants(cmd, func(e *env) error {
			hook, err := e.hooks.Create(cmd.Context(), notify.HookInput{URL: *url, Events: *events, Description: *desc})
			if err != nil {
				return err
			}
			if *out == "json" {
				return writeJSON(cmd.OutOrStdout(), hook)
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "webhook #%d created: %s receives %s\n", hook.ID, hook.URL, strings.Join(hook.Events, ", "))
			fmt.Fprintf(w, "signing secret (shown once; give it to the receiver now): %s\n", hook.Secret)
			if hook.Warning != "" {
				fmt.Fprintf(w, "warning: %s\n", hook.Warning)
			}
			return nil
		})
	}
	return c
}

func webhookListCommand() *cobra.Command {
	c := &cobra.Command{
		Use:   "list",
		Short: "List the MSP-wide webhooks (never their secrets)",
		Args:  cobra.NoArgs,
	}
	out := outputFlag(c)
	c.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := checkOutput(*out); err != nil {
			return err
		}
		return withTenants(cmd, func(e *env) error {
			list, err := e.hooks.List(cmd.Context())
			if err != nil {
				return err
			}
			if *out == "json" {
				return writeJSON(cmd.OutOrStdout(), orEmpty(list))
			}
			now := time.Now()
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tURL\tEVENTS\tDESCRIPTION\tADDED")
			for _, h := range list {
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", h.ID, h.URL, strings.Join(h.Events, ","), orDash(h.Description), humane.Relative(h.CreatedAt, now))
			}
			return tw.Flush()
		})
	}
	return c
}

func webhookDeleteCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "delete ID",
		Short: "Delete an MSP-wide webhook and its delivery log",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := strconv.ParseInt(args[0], 10, 64)
			if err != nil || id <= 0 {
				return usagef("webhook id %q is not a number (see 'switchboard webhook list')", args[0])
			}
			return withTenants(cmd, func(e *env) error {
				if err := e.hooks.Delete(cmd.Context(), id); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "webhook #%d deleted\n", id)
				return nil
			})
		},
	}
}
