// Command marketplace-golive-go is the Pulumi program of this folder (`pulumi up` runs it).
package main

import (
	"github.com/pulumi-marketplace/pulumi-marketplace/examples/go/golive"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

func main() {
	pulumi.Run(golive.Program)
}
