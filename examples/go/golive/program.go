// Package golive takes one Azure Marketplace offer live and exports what the portal reported.
//
// By default it targets the Partner Portal; set marketplace:endpoint and marketplace:accessToken
// (or the Azure AD settings, see the repository README) in the stack's config.
package golive

import (
	"time"

	"github.com/pulumi-marketplace/pulumi-marketplace/sdk/go/marketplace"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/config"
)

// orDefault is value, or fallback when value is empty.
func orDefault(value, fallback string) string {
	if value == "" {
		return fallback
	}
	return value
}

// Program declares the LiveOffer; its outputs are the stack's outputs.
func Program(ctx *pulumi.Context) error {
	cfg := config.New(ctx, "")
	timeout := orDefault(cfg.Get("timeout"), "2h")
	if _, err := time.ParseDuration(timeout); err != nil {
		return err // a clear "time: invalid duration" naming the value, before anything is sent
	}
	offer, err := marketplace.NewLiveOffer(ctx, "contoso-vm-live", &marketplace.LiveOfferArgs{
		PublisherId: pulumi.String(orDefault(cfg.Get("publisherId"), "contoso")),
		OfferId:     pulumi.String(orDefault(cfg.Get("offerId"), "contoso-vm")),
		// A new plan version published to preview? Bump planVersion and `pulumi up` goes live again.
		Triggers: pulumi.Array{pulumi.String(orDefault(cfg.Get("planVersion"), "1.0.0"))},
	},
		// When a custom timeout passes, the go-live keeps running in the portal and is recorded:
		// the next `pulumi up` resumes waiting on the same operation.
		pulumi.Timeouts(&pulumi.CustomTimeouts{Create: timeout, Update: timeout}),
	)
	if err != nil {
		return err
	}
	ctx.Export("offerId", offer.ID())
	ctx.Export("status", offer.Status)
	ctx.Export("operationId", offer.OperationId)
	ctx.Export("operationUrl", offer.OperationUrl)
	ctx.Export("liveLinks", offer.LiveLinks)
	return nil
}
